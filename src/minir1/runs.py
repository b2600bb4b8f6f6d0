"""A run folder: what ``minir1 train`` writes, defined here and nowhere else. A folder is a run when it holds
:data:`MARKER`, which only ``minir1 train`` writes (many projects keep a ``config.yaml`` at their root)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from types import SimpleNamespace

import yaml

from .errors import UserError

MARKER = ".minir1-run"
CONFIG = "config.yaml"  # the resolved settings: a recipe that repeats the run (train --resume reads it)
TRL_CONFIG = "grpo_config.json"  # the GRPOConfig TRL ended with
LAUNCHES = "launches.jsonl"  # command line, versions and machine of each start
FINAL = "final"  # the trained adapter, or the whole model after full fine-tuning
METRICS = "metrics.jsonl"  # one line per logged step (and per held-out evaluation)
SAMPLES = "samples.jsonl"  # completions with their rewards, every sample_every steps
EVAL_SAMPLES = "eval_samples.jsonl"  # one line per held-out problem per evaluation during training
SUMMARY = "summary.json"  # steps, time, peak memory and final rewards, written at the end of each launch


def is_run(path: str | os.PathLike) -> bool:
    return (Path(path) / MARKER).is_file()


def require_run(path: str | os.PathLike, hint: str = "pass a folder written by minir1 train") -> None:
    """A one-line UserError, ending in ``hint``, unless ``path`` is a run folder."""
    run = Path(path).expanduser()
    if not is_run(run):
        older = (f" (if a minir1 train from before {MARKER} existed wrote it, mark it: touch {run / MARKER})"
                 if (run / CONFIG).is_file() and (run / LAUNCHES).is_file() else "")
        raise UserError(f"{path} is not a minir1 run folder (no {MARKER}, which minir1 train writes): {hint}{older}")


def mark(run: Path) -> None:
    """Make ``run`` a run folder (only ``minir1 train`` calls this)."""
    (run / MARKER).write_text("written by minir1 train: train --overwrite may replace this folder\n",
                              encoding="utf-8")


def saved_settings(run: str | os.PathLike) -> dict:
    """A run's settings in one mapping: ``config.yaml`` as minir1 wrote it, overlaid with ``grpo_config.json``
    (what TRL ended with; TRL's fields only, none of minir1's)."""
    run = Path(run)
    try:
        mine = yaml.safe_load((run / CONFIG).read_text(encoding="utf-8")) or {}
        trl = json.loads((run / TRL_CONFIG).read_text(encoding="utf-8")) if (run / TRL_CONFIG).is_file() else {}
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise UserError(f"cannot read the settings of run {run}: {e}") from None
    return {**mine, **trl}


def reward_points(run: str | os.PathLike) -> dict[str, float]:
    """Metric key of each of a run's rewards and its weight in points, as the run saved them."""
    from .rewards import reward_key

    saved = saved_settings(run)
    return {reward_key(n): float(w) for n, w in zip(saved["rewards"], saved["reward_weights"], strict=True)}


def latest_checkpoint(run: Path) -> Path:
    """The ``checkpoint-N`` folder with the highest N that holds a complete trainer state (not transformers'
    ``get_last_checkpoint``, which also picks one a kill left without ``trainer_state.json``)."""
    found = [(int(p.name.removeprefix("checkpoint-")), p) for p in run.glob("checkpoint-*")
             if p.name.removeprefix("checkpoint-").isdigit() and (p / "trainer_state.json").is_file()]
    if not found:
        raise UserError(f"nothing to resume in {run}: it has no complete checkpoint-N folder "
                        "(drop --resume to start over with --overwrite)")
    return max(found)[1]


def save_config(cfg, path: Path, command: str | None = None) -> None:
    """``cfg.resolved()`` as YAML, headed by the command that produced it."""
    head = f"# {command}\n" if command else ""
    path.write_text(head + yaml.safe_dump(cfg.resolved(), sort_keys=False, allow_unicode=True), encoding="utf-8")


def load_run(run_dir: str | os.PathLike):
    """A run folder's settings as saved, as a :class:`~minir1.config.TrainConfig`: minir1's from ``config.yaml``;
    ``args`` holds TRL's as a namespace, from ``grpo_config.json`` (what TRL ended with) over ``config.yaml``'s."""
    from .config import TrainConfig

    saved = saved_settings(run_dir)
    mine = {f.name for f in dataclasses.fields(TrainConfig) if f.init}
    cfg = TrainConfig(**{k: v for k, v in saved.items() if k in mine})
    cfg.args = SimpleNamespace(**{k: v for k, v in saved.items() if k not in mine})
    return cfg
