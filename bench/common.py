"""What every benchmark shares: how a GRPO run's step cost is counted, and what a result records.

Each script calls :func:`record`, which writes ``bench/results/<name>.json`` with the
machine, command, date and the load average at the start and at the end (the machine
may be shared: a high load means the absolute figures are slow, which is why every
comparison is a ratio measured side by side); ``bench/report.py`` turns those files
into ``BENCHMARKS.md``.

Training benchmarks run ``minir1 train`` in a child process, from a recipe file the
script writes (:func:`train_run`), and count a step's cost with :func:`whole_cycles`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
# Where figures go; tests point this elsewhere so that a smoke run never overwrites a measurement.
RESULTS = Path(os.environ.get("MINIR1_BENCH_RESULTS", HERE / "results"))
# The benchmark's reward (grpo_step:length_spread) appends one line per generation batch to this file.
GENERATIONS_LOG = "MINIR1_BENCH_GENERATIONS"
LOAD_AT_START = os.getloadavg()


# minir1 is imported when used, not here: bench/gpu_check.py imports this module before it puts src/ on the path.


def load_average() -> list[float]:
    """:func:`minir1.machine.load_average`."""
    from minir1.machine import load_average

    return load_average()


def machine() -> dict:
    """:func:`minir1.machine.describe`, with each package's version as a key of its own (the results files' shape)."""
    from minir1.machine import describe

    info = describe()
    versions = info.pop("versions")
    return {**info, **versions}


def _relative(script: str) -> str:
    """The script's path from the repository root, as a user types it."""
    try:
        return str(Path(script).resolve().relative_to(HERE.parent))
    except ValueError:
        return script


def _threads_setting() -> str:
    """``OMP_NUM_THREADS=N `` when it is set: the thread count changes the figures, so it is part of the command."""
    threads = os.environ.get("OMP_NUM_THREADS")
    return f"OMP_NUM_THREADS={shlex.quote(threads)} " if threads else ""


def record(name: str, figures: dict, notes: str = "") -> Path:
    """Write ``figures`` with machine, command, date and load to ``bench/results/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "name": name,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": _threads_setting() + "python " + " ".join(shlex.quote(a) for a in [_relative(sys.argv[0]),
                                                                                      *sys.argv[1:]]),
        "machine": machine(),
        "load_average": {"start": [round(x, 2) for x in LOAD_AT_START], "end": load_average()},
        "figures": figures,
        "notes": notes,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return path


# --- the cost of a GRPO step ---------------------------------------------------------------


def cycle_steps(settings: dict) -> int:
    """Optimizer steps per generation cycle.

    TRL generates one batch every ``steps_per_generation x num_iterations`` micro-batches
    (``steps_per_generation`` defaults to ``gradient_accumulation_steps``), so a cycle is
    one optimizer step unless a setup shares a generation batch between steps.

    >>> cycle_steps({"gradient_accumulation_steps": 4, "steps_per_generation": 8})
    2
    """
    accumulation = settings.get("gradient_accumulation_steps", 1)
    micro = (settings.get("steps_per_generation") or accumulation) * settings.get("num_iterations", 1)
    if micro % accumulation:
        raise ValueError(f"a generation cycle of {micro} micro-batches is not a whole number of optimizer steps "
                         f"of {accumulation}")
    return micro // accumulation


def whole_cycles(step_seconds: dict[int, float], generations: list[dict], cycle: int) -> dict:
    """Cost per optimizer step over whole generation cycles, the first (warm-up) cycle left out.

    ``step_seconds`` maps each optimizer step to the wall time since the previous one
    (``metrics.jsonl``). ``generations`` has one entry per generation batch and process:
    the global step it was generated at and the completions and tokens it generated.
    Seconds per step are the cycles' total time over their steps (a median of single
    steps would mix generating and non-generating ones); tokens are those generated in
    those cycles, whatever the number of completions per step.

    >>> whole_cycles({1: 9.0, 2: 3.0, 3: 1.0, 4: 3.0, 5: 1.0},
    ...              [{"step": s, "completions": 64, "tokens": 4000} for s in (0, 2, 4)], 2)["seconds_per_step"]
    2.0
    """
    last = max(step_seconds) // cycle * cycle
    timed = range(cycle + 1, last + 1)
    missing = [s for s in timed if s not in step_seconds]
    if not timed or missing:
        raise ValueError(f"no whole timed cycle of {cycle} steps (logged steps {sorted(step_seconds)})")
    seconds = sum(step_seconds[s] for s in timed)
    batches = [g for g in generations if cycle <= g["step"] < last]
    completions = sum(g["completions"] for g in batches)
    tokens = sum(g["tokens"] for g in batches)
    return {"timed_steps": len(timed), "timed_cycles": len(timed) // cycle, "seconds": seconds,
            "seconds_per_step": seconds / len(timed), "completions_per_step": completions / len(timed),
            "generated_tokens": tokens, "generated_tokens_per_second": tokens / seconds,
            "mean_completion_length": tokens / completions if completions else None}


def schedule(names: list[str], rounds: int) -> list[tuple[int, str]]:
    """Every name once per round, every other round in reverse (A B B A ...): drift on a shared
    machine then falls on both sides of each comparison alike.

    >>> schedule(["a", "b"], 2)
    [(0, 'a'), (0, 'b'), (1, 'b'), (1, 'a')]
    """
    return [(r, n) for r in range(rounds) for n in (names if r % 2 == 0 else names[::-1])]


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def train_run(settings: dict, folder: Path, launcher: list[str] | None = None, env: dict | None = None) -> dict:
    """Train once with ``minir1 train --config <recipe written from settings>``; return the run's step cost.

    ``launcher`` replaces ``python`` (e.g. torchrun). The run folder is ``folder/run``.
    The result holds :func:`whole_cycles`' figures, the load average before the run, the
    peak memory from ``summary.json`` and what TRL received for each setting asked.
    """
    folder.mkdir(parents=True)
    run, log = folder / "run", folder / "generations.jsonl"
    recipe = folder / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({**settings, "output_dir": str(run)}, sort_keys=False))
    env = {**os.environ, **(env or {}), GENERATIONS_LOG: str(log),
           "PYTHONPATH": os.pathsep.join(p for p in [str(HERE), os.environ.get("PYTHONPATH", "")] if p)}
    cmd = (launcher or [sys.executable]) + ["-m", "minir1", "train", "--config", str(recipe)]
    load = load_average()[0]
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        lines = [x for x in done.stderr.strip().splitlines() if x.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit status {done.returncode}")
    from minir1.jsonl import read_jsonl

    step_seconds = {r["step"]: r["step_seconds"] for r in read_jsonl(run / "metrics.jsonl") if "step_seconds" in r}
    cost = whole_cycles(step_seconds, read_jsonl(log), cycle_steps(settings))
    summary = json.loads((run / "summary.json").read_text())
    return {**cost, "load_average_before": load, "received": received(run, settings),
            "peak_cpu_memory_gb": summary.get("peak_cpu_memory_gb"), "peak_gpu_memory_gb": summary.get("peak_gpu_memory_gb")}


def received(run: Path, settings: dict) -> dict:
    """What the trainer actually ran with, read back from the run folder.

    ``final/training_args.bin`` is the ``GRPOConfig`` the trainer held (transformers
    saves it beside the model), ``grpo_config.json`` the one ``minir1 train`` saved
    and ``final/adapter_config.json`` the LoRA settings peft used. Every setting asked
    that these know must come back unchanged, and gradient checkpointing
    (``activation_checkpointing``, of which ``gradient_checkpointing`` is transformers'
    deprecated alias) must be off unless asked, though TRL's own default is on: a
    benchmark of settings that did not reach the trainer would measure something else.
    """
    args = trainer_args(run)
    saved_file, adapter_file = run / "grpo_config.json", run / "final" / "adapter_config.json"
    saved = json.loads(saved_file.read_text()) if saved_file.is_file() else {}
    adapter = json.loads(adapter_file.read_text()) if adapter_file.is_file() else {}
    checkpointing = settings.get("activation_checkpointing", settings.get("gradient_checkpointing", False))
    expected = {**settings, "activation_checkpointing": checkpointing, "gradient_checkpointing": checkpointing}
    got = {k: getattr(args, k) for k in expected if hasattr(args, k)}
    got.update({f"{k} (grpo_config.json)": saved[k] for k in ("activation_checkpointing",) if k in saved})
    got.update({k: adapter[k] for k in ("lora_dropout",) if k in adapter and k in expected})
    wrong = {k: (expected[k.split(" ")[0]], v) for k, v in got.items() if v != expected[k.split(" ")[0]]}
    if wrong:
        raise RuntimeError("the trainer did not get what was asked (setting: (asked, got)): " + repr(wrong))
    return got


def trainer_args(run: Path):
    """The ``GRPOConfig`` the trainer held, as transformers saved it beside the final model."""
    import torch

    return torch.load(run / "final" / "training_args.bin", weights_only=False)


def generations_from_metrics(records: list[dict], generation_batch_size: int) -> list[dict]:
    """Generation batches as :func:`whole_cycles` takes them, from ``metrics.jsonl`` logged every step:
    TRL logs ``completions/mean_length`` for the steps that generated (one batch of
    ``generation_batch_size`` completions, across processes)."""
    return [{"step": r["step"] - 1, "completions": generation_batch_size,
             "tokens": r["completions/mean_length"] * generation_batch_size}
            for r in records if "completions/mean_length" in r]
