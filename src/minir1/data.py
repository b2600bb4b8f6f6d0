"""Problems: GSM8K (bundled, offline), local files, or Hugging Face datasets.

A *data source* is one string:

* ``gsm8k:train`` or ``gsm8k:test``: GSM8K as shipped in the package (MIT, Cobbe et al. 2021;
  see ``data/gsm8k/LICENSE``);
* a path to a ``.jsonl``, ``.json``, ``.parquet`` or ``.csv`` file;
* a Hub dataset id with an optional split, ``openai/gsm8k:test``: the Hub is asked first, with a
  time-out, so an offline machine gets a one-line error at once (``HF_HUB_OFFLINE=1``: cache only).

Every row needs a question and a parseable gold answer (a number, or a solution ending ``#### N``;
see :mod:`minir1.answers`); a row without is an error naming file and row, never silently dropped.

    >>> problems = load_problems("gsm8k:test", limit=2)
    >>> problems[0].answer, problems[0].id
    ('18', 'gsm8k:test:0')
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from .answers import Number, format_number, parse_gold
from .errors import UserError, first_line
from .jsonl import loads
from .models import hub_offline
from .prompts import DEFAULT_STYLE, build_prompt, solution_steps

GSM8K = Path(__file__).parent / "data" / "gsm8k"  # the package's own copy
BUNDLED = {"gsm8k:train": GSM8K / "train.jsonl", "gsm8k:test": GSM8K / "test.jsonl"}
LOCAL_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
HUB_CONFIGS = {"openai/gsm8k": "main", "gsm8k": "main"}  # Hub datasets that need a configuration name
HUB_TIMEOUT = 10.0  # seconds to wait for the Hub's answer about a dataset (offline, firewalled)


@dataclass(frozen=True)
class Problem:
    """One problem. ``answer`` is the gold as a canonical number string; ``solution`` the raw gold text."""

    id: str
    question: str
    solution: str
    gold: Number

    @property
    def answer(self) -> str:
        return format_number(self.gold)


def _text(path: Path) -> str:
    """A file's text; bad UTF-8 is an error naming its line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UserError(f"{path}: line {line} is not valid UTF-8; save the file as UTF-8") from None


def _read_local(path: Path) -> list[dict]:
    """A local file's rows. Not ``datasets.load_dataset``: its errors do not name the bad line, and it
    copies every file into its cache first."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            rows = []
            for n, line in enumerate(_text(path).split("\n"), 1):  # not splitlines: JSON text may hold U+2028
                if line.strip():
                    try:
                        rows.append(loads(line))
                    except json.JSONDecodeError as e:
                        raise UserError(f"{path}: line {n} is not valid JSON ({e.msg})") from None
            return rows
        if suffix == ".json":
            data = loads(_text(path))
            if isinstance(data, dict) and isinstance(data.get("data"), list):
                data = data["data"]
            if not isinstance(data, list):
                raise UserError(f"{path}: expected a JSON list of rows (or {{'data': [...]}})")
            return data
        if suffix == ".csv":
            return list(csv.DictReader(io.StringIO(_text(path), newline="")))
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot be read as {suffix[1:]} ({first_line(e, 1000)})") from None
    raise UserError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(LOCAL_SUFFIXES)}")


def _read_hub(source: str, config: str | None) -> list[dict]:
    from huggingface_hub import HfApi

    name, _, split = source.partition(":")
    # ask the Hub with a time-out first: no answer is one line now, not minutes of retries
    if not hub_offline("HF_DATASETS_OFFLINE"):
        try:
            HfApi().dataset_info(name, timeout=HUB_TIMEOUT)
        except Exception as e:  # connection, time-out, not found, gated: all end the same way for a user
            raise UserError(f"cannot load Hub dataset {source!r} ({first_line(e, 1000)}); check the id and your "
                            "internet access, set HF_HUB_OFFLINE=1 to use a cached copy, or pass a local "
                            ".jsonl/.json/.parquet/.csv file") from None
    try:
        import datasets

        ds = datasets.load_dataset(name, config or HUB_CONFIGS.get(name), split=split or "train")
    except Exception as e:  # the hub raises many types; all mean the same to a user
        raise UserError(f"cannot load Hub dataset {source!r} ({first_line(e, 1000)}); it needs internet access, or "
                        "pass a local .jsonl/.json/.parquet/.csv file, or gsm8k:train / gsm8k:test") from None
    return list(ds)


def is_gsm8k(source: str) -> bool:
    """Whether ``source`` is GSM8K, the copy shipped with minir1 or its Hub id (its fields are ``question`` and
    ``answer``, whatever fields a user's own data has)."""
    return source.partition(":")[0] in HUB_CONFIGS  # the Hub's names, and "gsm8k", the bundled copy's


def load_problems(source: str = "gsm8k:train", *, question_field: str = "question", answer_field: str = "answer",
                  id_field: str = "id", limit: int | None = None, config: str | None = None) -> list[Problem]:
    """The first ``limit`` (default: all) problems of a data source (see the module docstring).

    Raises :class:`UserError` on a missing file, an empty set, or a row without a question or a parseable gold.
    """
    if source in ("gsm8k", *BUNDLED):
        where = "gsm8k:train" if source == "gsm8k" else source
        rows = _read_local(BUNDLED[where])
    else:
        path = Path(source).expanduser()
        if path.suffix.lower() in LOCAL_SUFFIXES or path.exists():
            if not path.is_file():
                raise UserError(f"data file not found: {source}")
            where, rows = str(path), _read_local(path)
        elif "/" in source:
            where, rows = source, _read_hub(source, config)
        else:
            raise UserError(f"unknown data source {source!r}: use gsm8k:train, gsm8k:test, "
                            "a .jsonl/.json/.parquet/.csv file, or a Hub dataset id such as openai/gsm8k:test")
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
        gold = parse_gold(solution)  # None for anything but a number or a text holding one
        if gold is None:
            raise UserError(f"{where}: row {n + 1} has no parseable gold answer in field {answer_field!r} "
                            "(expected a number, or a solution ending '#### N')")
        pid = row.get(id_field)
        problems.append(Problem(str(pid) if pid is not None else f"{where}:{n}", question, str(solution), gold))
    return problems


def solution_length(problem: Problem) -> int | None:
    """Lines of worked steps in a problem's solution (GSM8K's: about one calculation a line, then ``#### N``);
    ``None`` when the solution is a bare answer with no steps to count."""
    if "####" not in problem.solution:
        return None
    return sum(1 for line in solution_steps(problem.solution).splitlines() if line.strip()) or None


def at_most_steps(problems: list[Problem], max_steps: int, where: str) -> list[Problem]:
    """The problems whose worked solution has at most ``max_steps`` lines of steps (a proxy for difficulty:
    GSM8K's train set has 2 to 9), in their order. Raises :class:`UserError` if a problem (row) has no steps to
    count, or if none is left."""
    lengths = []
    for row, p in enumerate(problems, 1):
        if (n := solution_length(p)) is None:
            raise UserError(f"{where}: row {row} has no worked steps before '#### answer' for max_solution_steps to "
                            "count: leave max_solution_steps unset for this data")
        lengths.append(n)
    kept = [p for p, n in zip(problems, lengths, strict=True) if n <= max_steps]
    if not kept:
        raise UserError(f"{where}: no problem's solution has at most {max_steps} steps (the shortest has "
                        f"{min(lengths)}): raise max_solution_steps")
    return kept


def prompt_rows(problems: list[Problem], style: str = DEFAULT_STYLE, system_prompt: str | None = None,
                prefill: str | None = None) -> list[dict]:
    """Dataset rows for GRPO: a chat ``prompt``, and ``answer``, ``tag_style``, ``prefill``, ``id``, ``question``.

    TRL hands every column but ``prompt`` to the reward functions as keyword arguments. With a ``prefill``
    the prompt ends with it as an opened assistant message; the column is ``""`` without one.
    """
    return [{"prompt": build_prompt(p.question, style, system_prompt, prefill), "answer": p.answer,
             "tag_style": style, "prefill": prefill or "", "id": p.id, "question": p.question} for p in problems]
