"""The one answer checker: what the model answered, and whether it equals the gold.

Rewards, ``minir1 score`` and ``minir1 eval`` all call this module; nothing else parses an answer.

* Numbers compare exactly, never rounded: ``18``, ``18.00``, ``$18``, ``18 dollars``, ``$1,250.00``,
  ``50%``, ``−3`` (unicode minus), ``2.5E-3``, ``3/4`` and ``\\frac{3}{4}`` all count as their number,
  and a float gold means its shortest decimal form (``19.99`` is 1999/100, not the double next to it).
  Any number of digits is read, in time linear in the text, with no floats or sympy; parsing never
  raises on a completion. What cannot be compared exactly (``5/0``, an over-long exponent or
  fraction) makes an answer wrong, with that reason, and leaves a gold with no number.
* The strict rule (:func:`check`), for rewards and evaluation: exactly one closed, non-empty
  ``<answer>`` block outside the reasoning (``<think>`` or ``<reasoning>``), holding one distinct
  number ("18 or 19" is wrong). The lenient rule (:func:`lenient_extract`, :func:`lenient_check`)
  takes the last number anywhere: did the model know the answer but break the format? Evaluation
  reports it beside the strict rule; the ``lenient_correctness`` reward trains on it.

    >>> check("<think>9 eggs at $2</think><answer>$18.00</answer>", "18").correct
    True
    >>> check("<answer>18 or 19</answer>", "18").reason
    'answer block holds more than one number'
    >>> check("<answer>19.99</answer>", 19.99).correct, check("<answer>1e3</answer>", "1,000").correct
    (True, True)
"""

from __future__ import annotations

import numbers
import re
import unicodedata
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from .prompts import STYLES

ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"

# A number is ±M × 10**E, M stripped of leading and trailing zeros. Up to this many digits of
# M plus |E| it is an int or a Fraction (cheap, and within what int() and str() convert); beyond,
# a BigNumber compared by its digits, so even a million digits compare in linear time.
SMALL_DIGITS = 1000
EXPONENT_DIGITS = 9
# Longest numerator (digits of M plus |E|) and denominator read: every fraction stays far below SMALL_DIGITS.
FRACTION_DIGITS = 100

# A run of digits and commas is taken whole and its commas checked in Python (_values),
# which keeps the scan linear on any input. The look-behind keeps '5-3' from reading as
# 5 and -3, and 'x2' from reading as 2.
_NUMBER = re.compile(
    r"(?<![\w.])"
    r"(?P<sign>[-\u2212]\s?)?\$?\s?(?P<sign2>[-\u2212])?"
    r"(?P<num>\d[\d,]*(?:\.\d*)?|\.\d+)"
    r"(?:[eE](?P<exp>[-+\u2212]?\d+))?"
    r"(?:\s?/\s?(?P<den>\d+)(?![\d.]))?"
)
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+")
_BARE = re.compile(r"\s*[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s*")
_BARE_INT = re.compile(r"\s*[-\u2212]?(?:\d{1,3}(?:,\d{3})+|\d+)\s*")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\{\s*(\d+)\s*\}\{\s*(\d+)\s*\}")
_CACHE = 512  # several rewards look at the same completion in turn: the second look is free
# Beyond this many bits an int may pass Python's str() limit of 4,300 digits.
_STR_BITS = 12_000


@dataclass(frozen=True)
class BigNumber:
    """A number too long for an int or a Fraction: exactly ``±int(digits) * 10**exponent``, ``digits``
    without leading or trailing zeros, so equal values are equal objects (never an int or a Fraction)."""

    negative: bool
    digits: str
    exponent: int

    def __neg__(self) -> BigNumber:
        return BigNumber(not self.negative, self.digits, self.exponent)


# A parsed number: an int when it is whole, an exact Fraction, or a BigNumber.
Number = int | Fraction | BigNumber


@dataclass(frozen=True, eq=False)
class _NotANumber:
    """What a number-like text stands for when it cannot be compared; equal only to itself."""

    reason: str

    def __neg__(self) -> _NotANumber:
        return self


DIVISION_BY_ZERO = _NotANumber("division by zero in the answer block")
FRACTION_TOO_LONG = _NotANumber(f"fraction too long to compare (over {FRACTION_DIGITS} digits)")
EXPONENT_TOO_LARGE = _NotANumber(f"exponent too large to compare (over {EXPONENT_DIGITS} digits)")


@dataclass(frozen=True)
class Verdict:
    """What the strict rule made of one completion: ``extracted`` is the answer as a canonical number
    string (``"1250"``, ``"2.5"``) or None; ``reason`` says why there is none, or why it was rejected."""

    correct: bool
    extracted: str | None
    reason: str | None = None


def _ascii_digits(text: str) -> str:
    # \d also matches other scripts' digits, which int() reads but str.strip('0') does not.
    return text if text.isascii() else "".join(str(unicodedata.decimal(c)) for c in text)


def _decimal(digits: str, exponent: int) -> tuple[Number, int]:
    """``int(digits) * 10**exponent`` exactly, and its size (digits of M plus |E|)."""
    digits = _ascii_digits(digits).lstrip("0")
    if not digits:
        return 0, 0
    m = digits.rstrip("0")
    exponent += len(digits) - len(m)
    size = len(m) + abs(exponent)
    if size > SMALL_DIGITS:
        return BigNumber(False, m, exponent), size
    value = int(m)
    return (value * 10**exponent if exponent >= 0 else Fraction(value, 10**-exponent)), size


def _int_digits(n: int) -> str:
    """Decimal digits of a non-negative int of any size (str() refuses beyond 4,300 digits)."""
    if n.bit_length() <= _STR_BITS:
        return str(n)
    half = n.bit_length() * 3 // 20  # about half its decimal digits
    high, low = divmod(n, 10**half)
    return _int_digits(high) + _int_digits(low).zfill(half)


def _as_decimal(value: Fraction) -> tuple[int, int] | None:
    """``(m, k)`` with ``abs(value) == m / 10**k`` when the value is a finite decimal, else None."""
    den = value.denominator
    twos = (den & -den).bit_length() - 1
    rest, fives = den >> twos, 0
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        return None
    k = max(twos, fives)
    return abs(value.numerator) * 2 ** (k - twos) * 5 ** (k - fives), k


def _settle(value: int | Fraction) -> Number:
    """An int or Fraction in the form :func:`_decimal` gives its value (a BigNumber when long)."""
    if isinstance(value, int) and value.bit_length() <= 3300:  # at most 994 digits: below SMALL_DIGITS
        return value
    decimal = _as_decimal(Fraction(value))
    if decimal is None:
        return value  # not a finite decimal: a Fraction, never equal to a BigNumber
    settled, _ = _decimal(_int_digits(decimal[0]), -decimal[1])
    return -settled if value < 0 else settled


def _one(num: str, exp: str | None, den: str | None) -> Number | _NotANumber:
    """The value of one written number without its sign: ``num``, times 10**exp, over den."""
    exp_digits = _ascii_digits((exp or "").lstrip("+-\u2212")).lstrip("0")
    if len(exp_digits) > EXPONENT_DIGITS:
        return EXPONENT_TOO_LARGE
    e = -int(exp_digits or 0) if exp and exp[0] in "-\u2212" else int(exp_digits or 0)
    whole, _, decimals = num.partition(".")
    value, size = _decimal(whole + decimals, e - len(decimals))
    if den is None:
        return value
    den = _ascii_digits(den).lstrip("0")
    if not den:
        return DIVISION_BY_ZERO
    if size > FRACTION_DIGITS or len(den) > FRACTION_DIGITS:
        return FRACTION_TOO_LONG
    return _settle(Fraction(value, int(den)))


def _values(match: re.Match) -> list[Number | _NotANumber]:
    """The numbers one regex match stands for: one, or several when its commas are not thousands."""
    sign, sign2, num, exp, den = match.group("sign", "sign2", "num", "exp", "den")
    negative = bool(sign or sign2)
    if exp is None and den is None and len(num) <= SMALL_DIGITS and num.isdigit():  # the common case
        value = int(num)
        return [-value if negative else value]
    if "," in num:
        whole, dot, decimals = num.partition(".")
        whole = whole.rstrip(",")
        if _THOUSANDS.fullmatch(whole):
            num = whole.replace(",", "") + dot + decimals
        else:  # '18,19' is two numbers, not eighteen thousand-odd
            pieces = [p for p in whole.split(",") if p]
            values = [int(p) if len(p) <= SMALL_DIGITS else _one(p, None, None) for p in pieces[:-1]]
            values.append(_one(pieces[-1] + dot + decimals, exp, den))
            if negative:
                values[0] = -values[0]
            return values
    value = _one(num, exp, den)
    return [-value if negative else value]


def _normalise(text: str) -> str:
    if "\\" in text and "frac" in text:  # the regex only where it can match
        text = _LATEX_FRAC.sub(r"\1/\2", text)
    return text.replace("{,}", ",")


def _all_values(text: str) -> list[Number | _NotANumber]:
    return [v for m in _NUMBER.finditer(_normalise(text)) for v in _values(m)]


def numbers_in(text: str) -> list[Number]:
    """Every number in ``text``, in order (a division by zero or an over-long number is left out).

    >>> numbers_in("It costs $1,250.00, or −3 after 50% off")
    [1250, -3, 50]
    """
    return [v for v in _all_values(text) if not isinstance(v, _NotANumber)]


def _single(text: str) -> tuple[Number | None, str | None]:
    """The one number ``text`` holds as ``(value, None)``, else ``(None, reason)`` (worded for an answer block)."""
    values = set(_all_values(text))
    if len(values) != 1:
        return None, "answer block holds more than one number" if values else "no number in the answer block"
    value = values.pop()
    return (None, value.reason) if isinstance(value, _NotANumber) else (value, None)


def _plain(negative: bool, digits: str, exponent: int) -> str:
    """``±int(digits) * 10**exponent`` written out, in scientific notation beyond SMALL_DIGITS zeros."""
    sign, point = "-" if negative else "", len(digits) + exponent
    if 0 <= exponent <= SMALL_DIGITS:
        return sign + digits + "0" * exponent
    if exponent < 0 < point:
        return f"{sign}{digits[:point]}.{digits[point:]}"
    if exponent < 0 and -point <= SMALL_DIGITS:
        return f"{sign}0.{'0' * -point}{digits}"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{exponent + len(digits) - 1:+d}"


def format_number(value: Number) -> str:
    """Canonical, exact string of a number: ``18``, ``-3``, ``2.5``; ``1/3`` when not a finite decimal.

    >>> format_number(Fraction(-1, 8)), format_number(parse_gold("1e1001"))
    ('-0.125', '1e+1001')
    """
    if isinstance(value, BigNumber):
        return _plain(value.negative, value.digits, value.exponent)
    if isinstance(value, int) or value.denominator == 1:
        return ("-" if value < 0 else "") + _int_digits(abs(int(value)))
    decimal = _as_decimal(value)  # its digits never end in 0, so this is the BigNumber's text too
    if decimal is None:
        return f"{'-' if value < 0 else ''}{_int_digits(abs(value.numerator))}/{_int_digits(value.denominator)}"
    m, k = decimal
    return _plain(value < 0, _int_digits(m), -k)


def parse_gold(text: str | int | float | Fraction) -> Number | None:
    """The gold answer of a problem: a number, or a solution whose last line is ``#### N``.

    A text holds one number (none, several distinct ones or ``5/0``: None); a float means its shortest
    decimal form; NaN, infinities and booleans hold no number.

    >>> parse_gold("9 * 120 = <<9*120=1080>>1,080\\n#### 1,080"), parse_gold(-5), parse_gold(19.99), parse_gold("no")
    (1080, -5, Fraction(1999, 100), None)
    """
    if isinstance(text, str):
        return _single(text.rsplit("####", 1)[-1])[0]
    if isinstance(text, bool):
        return None
    if isinstance(text, BigNumber):
        return text
    if isinstance(text, numbers.Integral):
        return _settle(int(text))
    if isinstance(text, numbers.Rational):
        return _settle(Fraction(text.numerator, text.denominator))
    if isinstance(text, numbers.Number):  # floats, decimal.Decimal, numpy floats: their own shortest text
        return _single(str(text))[0]  # 'nan' and 'inf' hold no digits: None
    return None


def _inside_reasoning(text: str, pos: int) -> bool:
    """True when position ``pos`` lies in an open reasoning block of any tag style (opened, not yet closed)."""
    for style in STYLES.values():
        last_open = text.rfind(style.open, 0, pos)
        if last_open != -1 and text.find(style.close, last_open, pos) == -1:
            return True
    return False


@lru_cache(maxsize=_CACHE)
def answer_block(text: str) -> tuple[str | None, str | None]:
    """The content of the single ``<answer>`` block, or ``(None, reason)``."""
    n_open, n_close = text.count(ANSWER_OPEN), text.count(ANSWER_CLOSE)
    if n_open == 0 and n_close == 0:
        return None, "no <answer> block"
    if n_open > 1 or n_close > 1:
        return None, "more than one <answer> block"
    if n_open != n_close:
        return None, "unclosed <answer> block"
    start, end = text.index(ANSWER_OPEN), text.index(ANSWER_CLOSE)
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
    return (None, reason) if content is None else _single(content)


def check(completion: str, gold: str | int | float | Fraction | BigNumber) -> Verdict:
    """Decide a completion under the strict rule against a gold answer (anything :func:`parse_gold`
    reads). Never raises on a completion; raises ValueError when the gold has no number."""
    gold_value = parse_gold(gold)
    if gold_value is None:
        raise ValueError(f"gold answer {gold!r} holds no number")
    value, reason = extract(completion)
    if value is None:
        return Verdict(False, None, reason)
    correct = value == gold_value
    return Verdict(correct, format_number(value), None if correct else "wrong answer")


def lenient_extract(text: str) -> Number | None:
    """The last number anywhere in the text.

    >>> lenient_extract("9 * 2 = 18\\nA: 18")
    18
    """
    last = deque(_NUMBER.finditer(_normalise(text)), maxlen=1)
    if not last:
        return None
    value = _values(last[0])[-1]
    return None if isinstance(value, _NotANumber) else value


def lenient_check(completion: str, gold: str | int | float | Fraction | BigNumber) -> bool:
    """Whether the last number anywhere in the completion equals the gold (the lenient rule). Raises
    ValueError when the gold has no number, as :func:`check` does.

    >>> lenient_check("9 eggs at $2 is $18.", "18"), lenient_check("<answer>18</answer> or 19", "18")
    (True, False)
    """
    gold_value = parse_gold(gold)
    if gold_value is None:
        raise ValueError(f"gold answer {gold!r} holds no number")
    return lenient_extract(completion) == gold_value


def is_bare_number(text: str, integer: bool = False) -> bool:
    """True when ``text`` is a number (an integer when ``integer``; thousands commas allowed) and nothing else
    but surrounding whitespace."""
    return (_BARE_INT if integer else _BARE).fullmatch(text) is not None
