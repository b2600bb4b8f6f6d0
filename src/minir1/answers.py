"""The one answer checker: what the model answered, and whether it equals the gold.

Rewards, ``minir1 score`` and ``minir1 eval`` all call this module; nothing else in
minir1 parses an answer. Design choices, stated up front:

* Numbers are compared exactly, as :class:`fractions.Fraction`: ``18``, ``18.00``,
  ``18.``, ``$18``, ``18 dollars``, ``1,250``, ``$1,250.00``, ``50%``, ``−3``
  (unicode minus), ``3/4`` and ``\\frac{3}{4}`` all count as their number. No sympy,
  no math-verify, no timeouts: parsing is a few regular expressions and runs in
  time linear in the text, in any thread.
* The strict rule (:func:`check`) is the one that rewards and evaluation use:

  - the answer must sit in exactly one ``<answer>…</answer>`` block;
  - two blocks, an unclosed block or an empty block are wrong;
  - a block that holds more than one distinct number ("18 or 19") is wrong;
  - a block inside the reasoning (``<think>`` or ``<reasoning>``) does not count.

* The lenient rule (:func:`lenient_extract`) takes the last number anywhere in the
  text. It is for diagnostics only (how often the model knew the answer but broke
  the format), never for rewards.

Example::

    >>> check("<think>9 eggs at $2</think><answer>$18.00</answer>", "18").correct
    True
    >>> check("<answer>18 or 19</answer>", "18").reason
    'answer block holds more than one number'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
# Reasoning tags of every supported tag style: an answer block inside any of them
# is part of the reasoning, not the answer.
REASONING_TAGS = (("<think>", "</think>"), ("<reasoning>", "</reasoning>"))

# One number: an optional sign (ASCII hyphen or U+2212 minus) before or after an
# optional '$', a maximal run of digits and commas, optional decimals, and an
# optional '/denominator'. Runs are taken whole and their commas checked in Python
# (see _values), which keeps the scan linear on any input. The look-behind keeps
# '5-3' from reading as 5 and -3, and 'x2' from reading as 2.
_NUMBER = re.compile(
    r"(?<![\w.])"
    r"(?P<sign>[-\u2212]\s?)?\$?\s?(?P<sign2>[-\u2212])?"
    r"(?P<num>\d[\d,]*(?:\.\d*)?|\.\d+)"
    r"(?:\s?/\s?(?P<den>\d+)(?![\d.]))?"
)
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_BARE = re.compile(r"\s*[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s*")
_BARE_INT = re.compile(r"\s*[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)\s*")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}")


# A parsed number: an int when it is whole, else an exact Fraction.
Number = int | Fraction


@dataclass(frozen=True)
class Verdict:
    """What the strict rule made of one completion.

    ``extracted`` is the answer as a canonical number string (``"1250"``,
    ``"-3"``, ``"2.5"``) or None; ``reason`` says why there is none, or why the
    answer was rejected.
    """

    correct: bool
    extracted: str | None
    reason: str | None = None


def _number(text: str) -> Number:
    # Integers stay ints (fast, and equal to and hashed like their Fraction).
    return int(text) if text.isdigit() else Fraction(Decimal(text))


def _values(match: re.Match) -> list[Number]:
    """The numbers one regex match stands for: one, or several when its commas are not thousands."""
    num = match["num"]
    negative = bool(match["sign"] or match["sign2"])
    if "," in num:
        whole, dot, decimals = num.partition(".")
        whole = whole.rstrip(",")
        if _THOUSANDS.fullmatch(whole):
            num = whole.replace(",", "") + dot + decimals
        else:  # '18,19' is two numbers, not eighteen thousand-odd
            pieces = [p for p in whole.split(",") if p]
            pieces[-1] += dot + decimals
            values = [_number(p) for p in pieces]
            if negative:
                values[0] = -values[0]
            return values
    value = _number(num)
    den = match["den"]
    if den is not None and int(den) != 0:
        value = Fraction(value, int(den))
    return [-value if negative else value]


def _normalise(text: str) -> str:
    # Cheap rewrites, applied only when their marker is present.
    if "\\" in text and "frac" in text:
        text = _LATEX_FRAC.sub(r"\1/\2", text)
    if "{,}" in text:
        text = text.replace("{,}", ",")
    return text


def numbers_in(text: str) -> list[Number]:
    """Every number in ``text``, in order.

    >>> numbers_in("It costs $1,250.00, or −3 after 50% off")
    [1250, -3, 50]
    """
    out: list[Number] = []
    for m in _NUMBER.finditer(_normalise(text)):
        out.extend(_values(m))
    return out


def parse_number(text: str) -> Number | None:
    """The one number ``text`` holds, or None when it holds none or several distinct ones."""
    values = set(numbers_in(text))
    return values.pop() if len(values) == 1 else None


def format_number(value: Number) -> str:
    """Canonical string of a number: ``18``, ``-3``, ``2.5``; ``1/3`` when not a finite decimal."""
    if isinstance(value, int) or value.denominator == 1:
        return str(value.numerator)
    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d != 1:
        return f"{value.numerator}/{value.denominator}"
    return format(Decimal(value.numerator) / Decimal(value.denominator), "f").rstrip("0").rstrip(".")


def parse_gold(text: str | int | float | Fraction) -> Number | None:
    """The gold answer of a problem: a bare number, or a solution whose last line is ``#### N``.

    >>> parse_gold("She makes 9 * 2 = $<<9*2=18>>18.\\n#### 18")
    18
    >>> parse_gold("#### 1,080"), parse_gold("-5"), parse_gold("no number")
    (1080, -5, None)
    """
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, Fraction)):
        return text
    if isinstance(text, float):
        if text != text or abs(text) == float("inf"):
            return None
        return int(text) if text.is_integer() else Fraction(text)
    if "####" in text:
        text = text.rsplit("####", 1)[1]
    return parse_number(text)


def _inside_reasoning(text: str, pos: int) -> bool:
    """True when position ``pos`` lies in an open reasoning block (opened, not yet closed)."""
    for open_tag, close_tag in REASONING_TAGS:
        last_open = text.rfind(open_tag, 0, pos)
        if last_open != -1 and text.find(close_tag, last_open, pos) == -1:
            return True
    return False


# Several rewards look at the same completion in turn; a small cache makes the
# second look free (a string's hash is computed once and kept by Python).
_CACHE = 512


@lru_cache(maxsize=_CACHE)
def answer_block(text: str) -> tuple[str | None, str | None]:
    """The content of the single ``<answer>`` block, or ``(None, reason)``."""
    n_open = text.count(ANSWER_OPEN)
    n_close = text.count(ANSWER_CLOSE)
    if n_open == 0 and n_close == 0:
        return None, "no <answer> block"
    if n_open > 1 or n_close > 1:
        return None, "more than one <answer> block"
    if n_open != n_close:
        return None, "unclosed <answer> block"
    start = text.index(ANSWER_OPEN)
    end = text.index(ANSWER_CLOSE)
    if end < start:
        return None, "</answer> comes before <answer>"
    if _inside_reasoning(text, start):
        return None, "answer block is inside the reasoning"
    content = text[start + len(ANSWER_OPEN) : end]
    if not content.strip():
        return None, "empty <answer> block"
    return content, None


@lru_cache(maxsize=_CACHE)
def extract(text: str) -> tuple[Number | None, str | None]:
    """The answer under the strict rule, as ``(value, None)`` or ``(None, reason)``."""
    content, reason = answer_block(text)
    if content is None:
        return None, reason
    values = set(numbers_in(content))
    if not values:
        return None, "no number in the answer block"
    if len(values) > 1:
        return None, "answer block holds more than one number"
    return values.pop(), None


def check(completion: str, gold: str | int | float | Fraction) -> Verdict:
    """Decide a completion under the strict rule against a gold answer.

    ``gold`` may be an int, a float, a :class:`~fractions.Fraction`, or any text
    :func:`parse_gold` accepts. Raises ValueError when the gold has no number.
    """
    gold_value = parse_gold(gold)
    if gold_value is None:
        raise ValueError(f"gold answer {gold!r} holds no number")
    value, reason = extract(completion)
    if value is None:
        return Verdict(False, None, reason)
    if value != gold_value:
        return Verdict(False, format_number(value), "wrong answer")
    return Verdict(True, format_number(value), None)


def lenient_extract(text: str) -> Number | None:
    """The last number anywhere in the text (diagnostics only, never a reward).

    >>> lenient_extract("9 * 2 = 18\\nA: 18")
    18
    """
    last = None
    for m in _NUMBER.finditer(_normalise(text)):
        last = m
    return _values(last)[-1] if last is not None else None


def is_bare_number(text: str) -> bool:
    """True when ``text`` is a number and nothing else but surrounding whitespace."""
    return _BARE.fullmatch(text) is not None


def is_bare_integer(text: str) -> bool:
    """True when ``text`` is an integer (thousands commas allowed) and nothing else."""
    return _BARE_INT.fullmatch(text) is not None
