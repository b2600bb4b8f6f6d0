"""One-step arithmetic word problems over small numbers in GSM8K's form (a worked solution ending ``#### N``),
so that ``minir1 demo`` runs with no download. Problems are a pure function of the seed.

    >>> p = make_problems(1, seed=0)[0]
    >>> p.solution.endswith(f"#### {p.answer}")
    True
"""

from __future__ import annotations

import operator
import random

from .data import Problem

NAMES = ["Mia", "Tom", "Ava", "Leo", "Zoe", "Sam", "Ivy", "Max", "Eli", "Amy", "Ben", "Kim"]
ITEMS = ["apples", "books", "coins", "pens", "cards", "eggs", "shells", "stamps", "toys", "cups"]

# (question template, reasoning template, answer) for each operation; a, b are the operands.
TEMPLATES = {
    "add": ("{n} has {a} {i}. {n} gets {b} more {i}. How many {i} does {n} have now?", "{a} + {b} = {c}",
            operator.add),
    "sub": ("{n} has {a} {i}. {n} gives away {b} {i}. How many {i} does {n} have left?", "{a} - {b} = {c}",
            operator.sub),
    "mul": ("{n} has {a} bags with {b} {i} in each bag. How many {i} does {n} have in all?", "{a} * {b} = {c}",
            operator.mul),
}


def make_problems(n: int, seed: int = 0, ops: tuple[str, ...] = ("add", "sub", "mul"), max_operand: int = 9,
                  prefix: str = "synthetic") -> list[Problem]:
    """``n`` problems drawn from ``seed``; ids are ``{prefix}:{seed}:{i}``."""
    rng = random.Random(seed)
    problems = []
    for k in range(n):
        op = ops[k % len(ops)]
        question_t, reasoning_t, fn = TEMPLATES[op]
        a, b = rng.randint(2, max_operand), rng.randint(2, max_operand)
        if op == "sub" and b > a:
            a, b = b, a
        c = fn(a, b)
        fields = {"n": rng.choice(NAMES), "i": rng.choice(ITEMS), "a": a, "b": b, "c": c}
        solution = reasoning_t.format(**fields) + f"\n#### {c}"
        problems.append(Problem(f"{prefix}:{seed}:{k}", question_t.format(**fields), solution, c))
    return problems
