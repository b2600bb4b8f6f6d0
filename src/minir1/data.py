"""Problems: GSM8K (bundled, offline), local files, or Hugging Face datasets.

A *data source* is one string:

* ``gsm8k:train`` or ``gsm8k:test``: the copy of GSM8K shipped in the package
  (MIT, Cobbe et al. 2021; see ``data/gsm8k/LICENSE``);
* a path to a ``.jsonl``, ``.json``, ``.parquet`` or ``.csv`` file;
* a Hub dataset id with an optional split, ``openai/gsm8k:test`` (needs internet).

Every row must have a question and a parseable gold answer (a bare number, or a
solution ending ``#### N``). A row that has not is an error naming the file and
row: nothing is silently dropped.

    >>> problems = load_problems("gsm8k:test", limit=2)
    >>> problems[0].answer, problems[0].id
    ('18', 'gsm8k:test:0')
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path

from .answers import format_number, parse_gold
from .errors import UserError
from .prompts import build_prompt

BUNDLED = {"gsm8k:train": "train.jsonl", "gsm8k:test": "test.jsonl"}
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
# Hub datasets that need a configuration name to load.
HUB_CONFIGS = {"openai/gsm8k": "main", "gsm8k": "main"}


@dataclass(frozen=True)
class Problem:
    """One problem. ``answer`` is the gold as a canonical number string; ``solution`` the raw gold text."""

    id: str
    question: str
    solution: str
    gold: Fraction

    @property
    def answer(self) -> str:
        return format_number(self.gold)


def bundled_path(name: str) -> Path:
    """Path of a bundled data file, e.g. ``bundled_path('test.jsonl')``."""
    return Path(str(resources.files("minir1") / "data" / "gsm8k" / name))


def _read_local(path: Path) -> list[dict]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            rows = []
            with path.open(encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise UserError(f"{path}: line {n} is not valid JSON ({e.msg})") from None
            return rows
        if suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("data"), list):
                data = data["data"]
            if not isinstance(data, list):
                raise UserError(f"{path}: expected a JSON list of rows (or {{'data': [...]}})")
            return data
        if suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as f:
                return list(csv.DictReader(f))
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot be read as {suffix[1:]} ({e})") from None
    raise UserError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(LOCAL_SUFFIXES)}")


def _read_hub(source: str, config: str | None) -> list[dict]:
    name, _, split = source.partition(":")
    config = config or HUB_CONFIGS.get(name)
    try:
        import datasets

        ds = datasets.load_dataset(name, config, split=split or "train")
    except Exception as e:  # the hub raises many types; all mean the same to a user
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"cannot load Hub dataset {source!r} ({first}); it needs internet access, "
            "or pass a local .jsonl/.json/.parquet/.csv file, or gsm8k:train / gsm8k:test"
        ) from None
    return list(ds)


def load_problems(
    source: str = "gsm8k:train",
    *,
    question_field: str = "question",
    answer_field: str = "answer",
    id_field: str = "id",
    limit: int | None = None,
    config: str | None = None,
) -> list[Problem]:
    """Load problems from a data source (see the module docstring).

    ``limit`` keeps the first N problems. Raises :class:`UserError` on a missing
    file, an empty set, or a row without a question or a parseable gold answer.
    """
    if source in ("gsm8k", *BUNDLED):
        key = source if source in BUNDLED else "gsm8k:train"
        where, rows = key, _read_local(bundled_path(BUNDLED[key]))
    else:
        path = Path(source).expanduser()
        if path.suffix.lower() in LOCAL_SUFFIXES or path.exists():
            if not path.is_file():
                raise UserError(f"data file not found: {source}")
            where, rows = str(path), _read_local(path)
        elif "/" in source:
            where, rows = source, _read_hub(source, config)
        else:
            raise UserError(
                f"unknown data source {source!r}: use gsm8k:train, gsm8k:test, "
                "a .jsonl/.json/.parquet/.csv file, or a Hub dataset id such as openai/gsm8k:test"
            )
    if not rows:
        raise UserError(f"{where}: no rows")
    problems = []
    for n, row in enumerate(rows[:limit] if limit else rows):
        if not isinstance(row, dict):
            raise UserError(f"{where}: row {n + 1} is not an object")
        question = row.get(question_field)
        if not isinstance(question, str) or not question.strip():
            raise UserError(f"{where}: row {n + 1} has no question in field {question_field!r}")
        solution = row.get(answer_field)
        gold = parse_gold(solution) if isinstance(solution, (str, int, float)) else None
        if gold is None:
            raise UserError(
                f"{where}: row {n + 1} has no parseable gold answer in field {answer_field!r} "
                "(expected a number, or a solution ending '#### N')"
            )
        pid = row.get(id_field)
        problems.append(Problem(str(pid) if pid is not None else f"{where}:{n}", question, str(solution), gold))
    return problems


def prompt_rows(problems: list[Problem], style: str = "think", system_prompt: str | None = None) -> list[dict]:
    """Dataset rows for GRPO: a chat ``prompt``, the gold ``answer``, the ``tag_style`` and the ``id``.

    TRL hands every column but ``prompt`` to the reward functions, so the rewards
    see ``answer`` and ``tag_style`` as keyword arguments.
    """
    return [
        {"prompt": build_prompt(p.question, style, system_prompt), "answer": p.answer, "tag_style": style, "id": p.id}
        for p in problems
    ]
