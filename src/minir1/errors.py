"""The one exception type for bad input.

A :class:`UserError` means the user can fix it (a wrong path, a bad setting, a
malformed line). The command line prints its message on one line, with no
traceback, and exits with status 2; everything else is a bug and keeps its
traceback. :func:`first_line` puts a library's error into such a line.
"""


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
