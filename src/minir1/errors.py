"""The one exception type for bad input.

A :class:`UserError` means the user can fix it (a wrong path, a bad setting, a
malformed line). The command line prints its message on one line, with no
traceback, and exits with status 2; everything else is a bug and keeps its
traceback. :func:`first_line` puts a library's error into such a line; :func:`check_number` and
:func:`check_whole` refuse a bad setting in one.
"""

import math


class UserError(Exception):
    """Bad input, explained in one line that says what is wrong and how to fix it."""


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of a library's exception message, cut at ``limit`` characters (its type's name when it
    has none), for a one-line error.

    >>> first_line(ValueError("bad value\\nTraceback details"))
    'bad value'
    """
    text = str(e).strip()
    return text.splitlines()[0][:limit] if text else type(e).__name__


def check_number(name: str, value, low: float | None = None, above: bool = False, high: float | None = None,
                 below: bool = False, hint: str = "") -> None:
    """Refuse NaN, infinity and values outside [low, high] (ends excluded with ``above``/``below``), in one line."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (low is None or (value > low if above else value >= low))
    if not ok or (high is not None and (value >= high if below else value > high)):
        bounds = " and ".join(x for x in ("" if low is None else f"{'above' if above else 'at least'} {low:g}",
                                          "" if high is None else f"{'below' if below else 'at most'} {high:g}") if x)
        raise UserError(f"{name} must be {'a number ' + bounds if bounds else 'a finite number'}, got {value}{hint}")


def check_whole(name: str, value, low: int = 1, hint: str = "") -> None:
    """Refuse anything but a whole number of at least ``low``, in one line."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UserError(f"{name} must be at least {low}, got {value}{hint}")
