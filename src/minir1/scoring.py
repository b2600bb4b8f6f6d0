"""``minir1 score``: completions in, one JSON verdict per line out.

Input lines are ``{"completion": <string or chat messages>, "answer": <gold>}``, the gold a number
or a GSM8K solution ending ``#### N``, with an optional ``"prefill"`` (text that opened the assistant
turn; it replaces ``--prefill`` for that line, null means none). Output lines are ``{"correct",
"extracted", "rewards", "total"}``, in input order, from the reward functions training uses. A
malformed line (bad JSON, bad UTF-8, no gold) stops the run with an error naming its line number,
after every line before it has been written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from . import answers
from .errors import UserError
from .jsonl import dumps, loads
from .prompts import get_style
from .recipes import read_recipe
from .rewards import DEFAULT_SCHEME, chosen_rewards, get_scheme, resolve, score, texts

CHUNK = 256  # lines scored together; below answers' cache size, so each is parsed once

Row = tuple[object, answers.Number, str | None]


def _parse(line: str, n: int, prefill: str | None) -> Row:
    try:
        row = loads(line)
    except ValueError as e:  # JSONDecodeError, or a number Python refuses to convert
        detail = f"{e.msg} at column {e.colno}" if hasattr(e, "colno") else str(e)
        raise UserError(f"line {n}: not valid JSON ({detail})") from None
    if not isinstance(row, dict) or "completion" not in row or "answer" not in row:
        raise UserError(f'line {n}: expected an object with "completion" and "answer"')
    completion, gold = row["completion"], row["answer"]
    if not isinstance(completion, (str, list)):
        raise UserError(f"line {n}: completion must be a string or a list of chat messages")
    value = answers.parse_gold(gold)  # None for anything but a number or a text holding one
    if value is None:
        shown = repr(gold) if len(repr(gold)) <= 80 else repr(gold)[:77] + "..."
        raise UserError(f"line {n}: answer {shown} holds no number (give a number or a solution ending '#### N')")
    prefill = row.get("prefill", prefill)
    if prefill is not None and not isinstance(prefill, str):
        raise UserError(f"line {n}: prefill must be a string or null")
    return completion, value, prefill


def recipe_rewards(recipe: str) -> tuple[str, str, dict[str, float]]:
    """The scheme, tag style and rewards (name: weight) that training with ``recipe`` uses: its ``rewards`` and
    ``reward_weights``, else its scheme's, as ``minir1 train`` resolves them, read without TRL (no torch)."""
    settings = read_recipe(recipe)
    scheme = settings.get("scheme") or DEFAULT_SCHEME
    names, weights = settings.get("rewards"), settings.get("reward_weights")
    names = [names] if isinstance(names, str) else names  # a YAML scalar, as the settings parser takes it
    if names is not None and not isinstance(names, list):
        raise UserError(f"recipe {recipe}: rewards must be a list of reward names, got {names!r}")
    weights = [weights] if isinstance(weights, (int, float, str)) else weights
    try:
        names, weights = chosen_rewards(scheme, names, weights)
    except (TypeError, ValueError):
        raise UserError(f"recipe {recipe}: reward_weights must be numbers, got {weights!r}") from None
    resolve(names, weights)  # an unknown reward or a weight count that does not match is an error here too
    return scheme, settings.get("tag_style") or get_scheme(scheme)["style"], dict(zip(names, weights, strict=True))


def _emit(batch: list[Row], rewards: dict[str, float], style: str, out: TextIO) -> int:
    """Score ``batch`` into ``out``; returns how many lines it held."""
    if not batch:
        return 0
    completions, golds, prefills = (list(column) for column in zip(*batch, strict=True))
    prefills = prefills if any(prefills) else None  # the common case: nothing to join
    scored = score(completions, golds, rewards, tag_style=style, prefill=prefills)
    verdicts = [answers.check(text, gold) for text, gold in zip(texts(completions, prefills), golds, strict=True)]
    out.write(dumps([{"correct": v.correct, "extracted": v.extracted, **points}
                     for v, points in zip(verdicts, scored, strict=True)]))
    out.flush()
    return len(batch)


def _decode(line: bytes | str, n: int) -> str:
    if isinstance(line, str):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"line {n}: not valid UTF-8 (byte {e.start + 1} of the line); save the file as UTF-8") from None


def score_lines(lines: Iterable[bytes | str], out: TextIO, scheme: str = DEFAULT_SCHEME, style: str | None = None,
                prefill: str | None = None, rewards: dict[str, float] | None = None) -> int:
    """Score JSON lines (bytes or text) into ``out``, ``prefill`` for lines without one, with ``rewards``
    (name: weight; default: the scheme's; :func:`recipe_rewards` gives a recipe's); returns how many were
    scored. Raises UserError on a bad line, after writing every line before it. Each completion is scored as
    written (a recipe's ``score_truncated`` is a matter of training), and ``correct`` is always the strict
    verdict, whatever the rewards."""
    spec = get_scheme(scheme)
    style = get_style(style or spec["style"]).name
    rewards = spec["rewards"] if rewards is None else rewards
    batch: list[Row] = []
    done = 0
    for n, raw in enumerate(lines, 1):
        try:
            line = _decode(raw, n)
            if line.strip():
                batch.append(_parse(line, n, prefill))
        except UserError:
            _emit(batch, rewards, style, out)  # keep every line before the bad one
            raise
        if len(batch) >= CHUNK:
            done += _emit(batch, rewards, style, out)
            batch = []
    return done + _emit(batch, rewards, style, out)
