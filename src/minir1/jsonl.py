"""JSON-lines files that survive interruption: what training and evaluation write as they go.

Records are appended and flushed one line at a time, so a kill loses at most the line being written,
which readers skip; rewrites go through a temporary file and a rename.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from .errors import UserError


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file, skipping lines cut short by a kill (an absent file is empty)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
    return [r for r in out if isinstance(r, dict)]


def dumps(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, default=float) + "\n" for r in records)


def write_atomic(path: Path, text: str) -> None:
    """Write through a temporary file and rename: a kill leaves the old file or the new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, obj) -> None:
    """``obj`` as indented JSON, written atomically (:func:`write_atomic`)."""
    write_atomic(path, json.dumps(obj, indent=2) + "\n")


def read_json(path: Path, hint: str | None = None):
    """The JSON in ``path``; if it cannot be read, ``{}``, or given a ``hint``, a UserError that ends with it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        if hint is None:
            return {}
        raise UserError(f"cannot read {path} ({e}){hint}") from None


def truncate_after(path: Path, step: int) -> int:
    """Keep the records whose ``step`` is at most ``step`` (and drop a half-written line); returns how many."""
    if not path.exists():
        return 0
    kept = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
    write_atomic(path, dumps(kept))
    return len(kept)


def append(path: Path, records: list[dict]) -> None:
    """Append ``records`` to a JSON-lines file, closed (so flushed) on return: a kill loses at most this call's."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(dumps(records))


# Python refuses to turn more than sys.int_info.default_max_str_digits digits into an int (and would take
# quadratic time): such an integer stays its digit string, which the answer checker reads in linear time.
_MAX_INT_DIGITS = 4000


def _int(text: str) -> int | str:
    return int(text) if len(text) <= _MAX_INT_DIGITS else text


def _float(text: str) -> float | str:
    value = float(text)
    return value if value - value == 0 else text  # 1e400 overflows to inf: keep the exact text instead


def loads(text: str | bytes):
    """``json.loads`` that never fails on a long number: integers of any length and floats beyond
    the float range come back as their text (which :func:`minir1.answers.parse_gold` reads exactly).

    >>> loads('{"answer": 19.99, "big": 1e400}')
    {'answer': 19.99, 'big': '1e400'}
    """
    return _DECODER.decode(text if isinstance(text, str) else text.decode("utf-8"))


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float)  # built once: score calls loads per line
