"""Tag styles and chat prompts.

A *tag style* names the tags a model reasons in: ``think`` (the Mini-R1 seed,
``<think>…</think><answer>…</answer>``) or ``reasoning`` (the GRPO-notebook seed,
``<reasoning>…</reasoning><answer>…</answer>``). A problem becomes a chat prompt
(system + user message), the form TRL's GRPOTrainer expects::

    >>> build_prompt("What is 2 + 3?", "think")[1]
    {'role': 'user', 'content': 'What is 2 + 3?'}
    >>> format_completion("2 + 3 = 5", "5", "think")
    '<think>\\n2 + 3 = 5\\n</think>\\n<answer>\\n5\\n</answer>'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError


@dataclass(frozen=True)
class TagStyle:
    name: str
    open: str
    close: str
    system_prompt: str


_FORMAT_RULES = (
    "First think through the problem step by step inside {open} {close} tags. "
    "Then give only the final answer, a single number, inside <answer> </answer> tags. "
    "Respond exactly in this format:\n"
    "{open}\n...\n{close}\n<answer>\n...\n</answer>"
)

STYLES: dict[str, TagStyle] = {
    name: TagStyle(
        name,
        f"<{name}>",
        f"</{name}>",
        "You are a helpful assistant that solves math word problems. "
        + _FORMAT_RULES.format(open=f"<{name}>", close=f"</{name}>"),
    )
    for name in ("think", "reasoning")
}

_CALCULATOR = re.compile(r"<<[^<>]*>>")


def get_style(name: str) -> TagStyle:
    """The tag style called ``name``; a UserError listing the choices otherwise."""
    try:
        return STYLES[name]
    except KeyError:
        raise UserError(f"unknown tag style {name!r}: choose one of {', '.join(STYLES)}") from None


def strip_calculator(text: str) -> str:
    """Remove GSM8K calculator annotations: ``'16-3=<<16-3=13>>13'`` becomes ``'16-3=13'``."""
    return _CALCULATOR.sub("", text)


def build_prompt(question: str, style: str = "think", system_prompt: str | None = None) -> list[dict]:
    """A chat prompt for one problem: the style's system prompt (or ``system_prompt``) and the question."""
    system = system_prompt if system_prompt is not None else get_style(style).system_prompt
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def format_completion(reasoning: str, answer: str, style: str = "think") -> str:
    """A completion in exactly the prompted format, e.g. for warm starts and tests."""
    s = get_style(style)
    return f"{s.open}\n{reasoning.strip()}\n{s.close}\n<answer>\n{answer.strip()}\n</answer>"


def solution_steps(solution: str) -> str:
    """The worked steps of a GSM8K solution, without annotations or the ``#### N`` line."""
    return strip_calculator(solution.rsplit("####", 1)[0]).strip()
