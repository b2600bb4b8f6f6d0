"""The one answer checker: what the model answered, and whether it equals the gold.

Rewards, ``minir1 score`` and ``minir1 eval`` all call this module; nothing else in
minir1 parses an answer. Design choices, stated up front:

* Numbers are compared exactly, never rounded: ``18``, ``18.00``, ``18.``, ``$18``,
  ``18 dollars``, ``1,250``, ``$1,250.00``, ``50%``, ``−3`` (unicode minus), ``3/4``
  and ``\\frac{3}{4}`` all count as their number. No sympy, no math-verify, no
  floats, no :mod:`decimal` context, no timeouts: parsing is a few regular
  expressions and runs in time linear in the text, in any thread, and never raises
  on any completion.
* **Any number of digits.** A decimal number is read from its digit string as
  ``±M × 10**E`` with ``M`` stripped of leading and trailing zeros (a form unique to
  each value). Up to ``SMALL_DIGITS`` digits of ``M`` plus ``|E|`` it becomes an
  ``int`` or :class:`fractions.Fraction`; longer, a :class:`BigNumber` that keeps
  ``M`` as text and compares by it, so ten thousand or a million digits are read
  and compared in linear time. Equal values always get the same form.
* **Scientific notation** is read exactly: ``1e308`` is 1 followed by 308 zeros,
  ``2.5E-3`` is 0.0025 (``e`` or ``E`` right after the digits, an optional sign, the
  exponent's digits). An exponent of more than ``EXPONENT_DIGITS`` digits is not
  compared: an answer holding one is wrong ("exponent too large to compare") and a
  gold holding one has no number.
* **Fractions** ``p/q`` are read exactly when ``p`` is at most ``FRACTION_DIGITS``
  digits (with its exponent) and ``q`` at most ``FRACTION_DIGITS`` digits; longer
  ones are not compared ("fraction too long to compare"). A **zero denominator**
  (``5/0``) is undefined: an answer holding one is wrong ("division by zero in the
  answer block"), and a gold holding one has no number.
* **A float gold** (from JSON, parquet or a Hub column) means its shortest decimal
  form, ``repr(x)``: ``19.99`` is 1999/100, never the binary double next to it.
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
    >>> check("<answer>19.99</answer>", 19.99).correct, check("<answer>1e3</answer>", "1,000").correct
    (True, True)
"""

from __future__ import annotations

import numbers
import re
import unicodedata
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
# Reasoning tags of every supported tag style: an answer block inside any of them
# is part of the reasoning, not the answer.
REASONING_TAGS = (("<think>", "</think>"), ("<reasoning>", "</reasoning>"))

# Digits of M plus |E| up to which a number is an int or a Fraction (cheap to build and
# compare, and far inside the 4,300 digits Python converts); beyond, a BigNumber.
SMALL_DIGITS = 1000
# Longest exponent read (|E| < 10**9): longer ones are not compared.
EXPONENT_DIGITS = 9
# Longest numerator (digits of M plus |E|) and denominator of a fraction that is read. With
# these bounds every fraction's exact value stays far below SMALL_DIGITS.
FRACTION_DIGITS = 100

# One number: an optional sign (ASCII hyphen or U+2212 minus) before or after an
# optional '$', a maximal run of digits and commas, optional decimals, an optional
# exponent and an optional '/denominator'. Runs are taken whole and their commas
# checked in Python (see _values), which keeps the scan linear on any input. The
# look-behind keeps '5-3' from reading as 5 and -3, and 'x2' from reading as 2.
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
# Beyond this many bits an int may pass Python's str() limit of 4,300 digits.
_STR_BITS = 12_000


@dataclass(frozen=True)
class BigNumber:
    """A number too long for an int or a Fraction: exactly ``±int(digits) * 10**exponent``.

    ``digits`` has no leading or trailing zeros, so equal values are equal objects;
    a BigNumber never equals an int or a Fraction (those are the shorter values).
    """

    negative: bool
    digits: str
    exponent: int

    def __neg__(self) -> BigNumber:
        return BigNumber(not self.negative, self.digits, self.exponent)


# A parsed number: an int when it is whole, an exact Fraction, or a BigNumber.
Number = int | Fraction | BigNumber


class _NotANumber:
    """What a number-like text stands for when it cannot be compared; equal only to itself."""

    def __init__(self, reason: str):
        self.reason = reason

    def __neg__(self) -> _NotANumber:
        return self

    def __repr__(self) -> str:
        return f"<{self.reason}>"


DIVISION_BY_ZERO = _NotANumber("division by zero in the answer block")
FRACTION_TOO_LONG = _NotANumber(f"fraction too long to compare (over {FRACTION_DIGITS} digits)")
EXPONENT_TOO_LARGE = _NotANumber(f"exponent too large to compare (over {EXPONENT_DIGITS} digits)")


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
    if isinstance(value, int) or value.denominator == 1:
        n = int(value)
        if n.bit_length() <= 3300:  # at most 994 digits: below SMALL_DIGITS
            return n
        big, _ = _decimal(_int_digits(abs(n)), 0)
        return -big if n < 0 else big
    decimal = _as_decimal(value)
    if decimal is None:
        return value  # not a finite decimal: a Fraction, never equal to a BigNumber
    m, k = decimal
    if m.bit_length() <= 3300 and k <= SMALL_DIGITS - 994:
        return value
    big, _ = _decimal(_int_digits(m), -k)
    return -big if value < 0 else big


def _exponent(text: str | None) -> int | None:
    if text is None:
        return 0
    negative = text[0] in "-\u2212"
    digits = _ascii_digits(text.lstrip("+-\u2212")).lstrip("0")
    if len(digits) > EXPONENT_DIGITS:
        return None
    return -int(digits or 0) if negative else int(digits or 0)


def _one(num: str, exp: str | None, den: str | None) -> Number | _NotANumber:
    """The value of one written number without its sign: ``num``, times 10**exp, over den."""
    e = _exponent(exp)
    if e is None:
        return EXPONENT_TOO_LARGE
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
    # Cheap rewrites, applied only when their marker is present.
    if "\\" in text and "frac" in text:
        text = _LATEX_FRAC.sub(r"\1/\2", text)
    if "{,}" in text:
        text = text.replace("{,}", ",")
    return text


def _all_values(text: str) -> list[Number | _NotANumber]:
    out: list[Number | _NotANumber] = []
    for m in _NUMBER.finditer(_normalise(text)):
        out.extend(_values(m))
    return out


def numbers_in(text: str) -> list[Number]:
    """Every number in ``text``, in order (a division by zero or an over-long number is left out).

    >>> numbers_in("It costs $1,250.00, or −3 after 50% off")
    [1250, -3, 50]
    """
    return [v for v in _all_values(text) if not isinstance(v, _NotANumber)]


def parse_number(text: str) -> Number | None:
    """The one number ``text`` holds, or None when it holds none, several distinct ones, or
    one that cannot be compared (``5/0``)."""
    values = set(_all_values(text))
    if len(values) != 1:
        return None
    value = values.pop()
    return None if isinstance(value, _NotANumber) else value


def _plain(negative: bool, digits: str, exponent: int) -> str:
    """``±int(digits) * 10**exponent`` written out; in exact scientific notation when that
    would take more than SMALL_DIGITS zeros."""
    sign = "-" if negative else ""
    if exponent >= 0:
        if exponent <= SMALL_DIGITS:
            return sign + digits + "0" * exponent
    else:
        point = len(digits) + exponent
        if point > 0:
            return f"{sign}{digits[:point]}.{digits[point:]}"
        if -point <= SMALL_DIGITS:
            return f"{sign}0.{'0' * -point}{digits}"
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{exponent + len(digits) - 1:+d}"


def format_number(value: Number) -> str:
    """Canonical, exact string of a number: ``18``, ``-3``, ``2.5``; ``1/3`` when not a finite decimal.

    >>> format_number(Fraction(-1, 8)), format_number(parse_number("1e1001"))
    ('-0.125', '1e+1001')
    """
    if isinstance(value, BigNumber):
        return _plain(value.negative, value.digits, value.exponent)
    if isinstance(value, int) or value.denominator == 1:
        n = int(value)
        return str(n) if n.bit_length() <= _STR_BITS else ("-" if n < 0 else "") + _int_digits(abs(n))
    settled = _settle(value)
    if isinstance(settled, BigNumber):
        return format_number(settled)
    decimal = _as_decimal(value)
    if decimal is None:
        return f"{'-' if value < 0 else ''}{_int_digits(abs(value.numerator))}/{_int_digits(value.denominator)}"
    m, k = decimal
    return _plain(value < 0, _int_digits(m), -k)


def parse_gold(text: str | int | float | Fraction) -> Number | None:
    """The gold answer of a problem: a number, or a solution whose last line is ``#### N``.

    A float means its shortest decimal form (``repr``), as JSON and parquet files hold
    numbers; NaN, infinities and booleans hold no number.

    >>> parse_gold("She makes 9 * 2 = $<<9*2=18>>18.\\n#### 18")
    18
    >>> parse_gold("#### 1,080"), parse_gold("-5"), parse_gold(19.99), parse_gold("no number")
    (1080, -5, Fraction(1999, 100), None)
    """
    if type(text) is int:  # the common cases first: a column of ints or of solutions
        return text if text.bit_length() <= 3300 else _settle(text)
    if type(text) is str:
        if "####" in text:
            text = text.rsplit("####", 1)[1]
        return parse_number(text)
    if isinstance(text, bool):
        return None
    if isinstance(text, BigNumber):
        return text
    if isinstance(text, numbers.Integral):
        return _settle(int(text))
    if isinstance(text, numbers.Rational):
        return _settle(Fraction(text.numerator, text.denominator))
    if isinstance(text, float):
        return parse_number(repr(float(text)))  # 'nan' and 'inf' hold no digits: None
    if isinstance(text, numbers.Number):  # decimal.Decimal, numpy floats: their own shortest text
        return parse_number(str(text))
    if not isinstance(text, str):
        return None
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
    values = set(_all_values(content))
    if not values:
        return None, "no number in the answer block"
    if len(values) > 1:
        return None, "answer block holds more than one number"
    value = values.pop()
    if isinstance(value, _NotANumber):
        return None, value.reason
    return value, None


def check(completion: str, gold: str | int | float | Fraction | BigNumber) -> Verdict:
    """Decide a completion under the strict rule against a gold answer.

    ``gold`` may be an int, a float, a :class:`~fractions.Fraction`, or any text
    :func:`parse_gold` accepts. Never raises on a completion; raises ValueError when
    the gold has no number.
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
    if last is None:
        return None
    value = _values(last)[-1]
    return None if isinstance(value, _NotANumber) else value


def is_bare_number(text: str) -> bool:
    """True when ``text`` is a number and nothing else but surrounding whitespace."""
    return _BARE.fullmatch(text) is not None


def is_bare_integer(text: str) -> bool:
    """True when ``text`` is an integer (thousands commas allowed) and nothing else."""
    return _BARE_INT.fullmatch(text) is not None
