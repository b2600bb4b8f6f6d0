"""``minir1 score``: completions in, one JSON verdict per line out.

Input lines are ``{"completion": <string or chat messages>, "answer": <gold>}``,
where the gold is a bare number or a GSM8K solution ending ``#### N``. Each output
line is ``{"correct", "extracted", "rewards", "total"}``, in input order. Lines are
scored in chunks through the same reward functions training uses; a malformed line
stops the run with an error naming its line number, after every line before it
has been written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from . import answers
from .errors import UserError
from .rewards import completion_text, get_scheme, score

CHUNK = 256  # lines scored together; below answers' cache size, so each is parsed once


def _parse(line: str, n: int) -> tuple[object, answers.Number]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise UserError(f"line {n}: not valid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(row, dict) or "completion" not in row or "answer" not in row:
        raise UserError(f'line {n}: expected an object with "completion" and "answer"')
    completion, gold = row["completion"], row["answer"]
    if not isinstance(completion, (str, list)):
        raise UserError(f"line {n}: completion must be a string or a list of chat messages")
    value = answers.parse_gold(gold) if isinstance(gold, (str, int, float)) else None
    if value is None:
        raise UserError(f"line {n}: answer {gold!r} holds no number (give a number or a solution ending '#### N')")
    return completion, value


def _emit(batch: list[tuple[object, object]], rewards: dict[str, float], style: str, out: TextIO) -> None:
    if not batch:
        return
    completions = [c for c, _ in batch]
    golds = [g for _, g in batch]
    scored = score(completions, golds, rewards, tag_style=style)
    lines = []
    for (completion, gold), s in zip(batch, scored, strict=True):
        verdict = answers.check(completion_text(completion), gold)
        lines.append(
            json.dumps(
                {"correct": verdict.correct, "extracted": verdict.extracted, "rewards": s["rewards"], "total": s["total"]}
            )
        )
    out.write("\n".join(lines) + "\n")
    out.flush()


def score_lines(lines: Iterable[str], out: TextIO, scheme: str = "mini-r1", style: str | None = None) -> int:
    """Score JSON lines into ``out``; returns how many were scored. Raises UserError on a bad line."""
    spec = get_scheme(scheme)
    style = style or spec["style"]
    rewards = spec["rewards"]
    batch: list[tuple[object, object]] = []
    done = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            batch.append(_parse(line, n))
        except UserError:
            _emit(batch, rewards, style, out)  # keep every line before the bad one
            raise
        if len(batch) >= CHUNK:
            _emit(batch, rewards, style, out)
            done += len(batch)
            batch = []
    _emit(batch, rewards, style, out)
    return done + len(batch)
