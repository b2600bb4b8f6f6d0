"""Output folders that commands may replace: only their own (a marker file says which command wrote it), only
with ``--overwrite``, and only after all the caller's checks."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .errors import UserError


def check_replaceable(out: Path, marker: str, overwrite: bool, what: str, also: str = "") -> bool:
    """True when ``out`` holds an earlier output of this command (it has ``marker``) that ``overwrite`` lets us
    replace; False for a new or empty folder; a one-line error otherwise. ``what`` names that output in the error,
    ``also`` is another way out offered beside ``--overwrite`` (e.g. ``"--resume to continue it"``)."""
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "is a file" if existing == out else f"is inside {existing}, which is a file"
        raise UserError(f"{out} {where}, not a folder: choose a folder")
    if existing != out or not any(out.iterdir()):
        return False
    if not (out / marker).is_file():
        raise UserError(f"{out} is not empty and is not {what} (no {marker}), so it is never replaced: choose "
                        "another folder")
    if not overwrite:
        raise UserError(f"{out} already exists: pass --overwrite to replace {what}, "
                        f"{also + ', or ' if also else 'or '}choose another folder")
    return True


def move_into_place(new: Path, out: Path) -> None:
    """Put the finished folder ``new`` at ``out``; what is there (empty, or one that
    :func:`check_replaceable` allowed) is first set aside, then deleted."""
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        out.rename(old / out.name)
        new.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(out)
