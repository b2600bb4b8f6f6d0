"""Output folders that commands may replace: only their own, and only when asked.

A command that writes a folder (``tiny-model``, ``export``, ``warmstart``) leaves a
marker file in it; :func:`check_replaceable` lets it write into a new or empty
folder, and replace a non-empty one only with ``--overwrite`` and only when the
marker says the same command wrote it. Anything else is a one-line error, raised
before any work starts.
"""

from __future__ import annotations

from pathlib import Path

from .errors import UserError


def check_replaceable(out: Path, marker: str, overwrite: bool, what: str) -> bool:
    """True when ``out`` holds an earlier output of this command that ``overwrite`` lets us replace.

    ``what`` names that output in the error, e.g. ``"a tiny model built by minir1"``.
    """
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file: choose a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return False
    if not overwrite:
        raise UserError(f"{out} already exists and is not empty: pass --overwrite to replace {what}, or choose "
                        "another folder")
    if not (out / marker).is_file():
        raise UserError(f"{out} is not {what} (no {marker}), so it is not replaced even with --overwrite: choose "
                        "another folder")
    return True
