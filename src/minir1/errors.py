"""The one exception type for bad input.

A :class:`UserError` means the user can fix it (a wrong path, a bad setting, a
malformed line). The command line prints its message on one line, with no
traceback, and exits with status 2; everything else is a bug and keeps its
traceback.
"""


class UserError(Exception):
    """Bad input, explained in one line that says what is wrong and how to fix it."""
