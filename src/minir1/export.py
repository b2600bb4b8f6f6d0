"""``minir1 export RUN_DIR OUT_DIR``: a run's trained model as one folder that plain transformers loads.

A LoRA run is merged into its base model in fp32 (so the low-rank update is not rounded twice), then cast
back to the base model's own dtype; a full fine-tuning run's ``final/`` is copied as it is. The folder holds
weights, configs, the tokenizer training used and a model card, not ``training_args.bin``. It is built beside
``OUT_DIR`` and moved in when complete; ``overwrite`` replaces only an earlier export (it holds :data:`MARKER`),
never the run or its local base model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import report, runs
from .errors import UserError
from .folders import check_replaceable, move_into_place
from .jsonl import read_json, write_json
from .models import TINY, ModelSpec, load_for_inference, resolve_model, saved_dtype
from .tiny import tiny_cache_path

MARKER = "minir1-export.json"  # the run and base model an export came from; --overwrite replaces only such folders


@dataclass(frozen=True)
class Exported:
    """Where an export went. ``merged``: a LoRA adapter merged into ``base_model`` (False: a full fine-tuning run,
    copied); ``url``: the Hub repository it was pushed to, if any."""

    out_dir: Path
    merged: bool
    base_model: str
    url: str | None = None


def check_paths(run_dir: Path, out_dir: Path, overwrite: bool):
    """The run's saved settings, once ``run_dir`` is a finished run and ``out_dir`` may be written; a one-line
    UserError otherwise."""
    runs.require_run(run_dir)
    final = run_dir / runs.FINAL
    if not final.is_dir():
        raise UserError(f"run folder {run_dir} has no final/ model yet: finish the run first "
                        f"(minir1 train --resume --output_dir {run_dir})")
    if not ((final / "adapter_config.json").is_file() or (final / "config.json").is_file()):
        raise UserError(f"{final} holds neither a LoRA adapter (adapter_config.json) nor a model (config.json)")
    run, out = run_dir.resolve(), out_dir.resolve()
    if run.is_relative_to(out) or out.is_relative_to(run):
        raise UserError(f"OUT_DIR {out_dir} would overwrite the run {run_dir}: choose a folder outside it")
    cfg = runs.load_run(run_dir)
    base = (tiny_cache_path() if cfg.model == TINY else Path(cfg.model).expanduser()).resolve()  # a local base
    if base.exists() and (base.is_relative_to(out) or out.is_relative_to(base)):
        raise UserError(f"OUT_DIR {out_dir} would overwrite the run's base model {cfg.model}: choose another "
                        "folder")
    check_replaceable(out_dir, MARKER, overwrite, "an export of minir1")
    return cfg


def merge_adapter(adapter: Path, base: str, out_dir: Path, trust_remote_code: bool = False) -> None:
    """Merge the LoRA ``adapter`` into the model ``base``; save the merged model and the tokenizer training used
    (the adapter's, else the base model's) to ``out_dir``."""
    import torch
    from transformers import AutoTokenizer

    model, _ = load_for_inference(ModelSpec(base, str(adapter)), dtype="float32", trust_remote_code=trust_remote_code)
    dtype = getattr(torch, saved_dtype(base, trust_remote_code) or "float32")
    model.merge_and_unload().to(device="cpu", dtype=dtype).save_pretrained(out_dir)
    tokenizer_dir = adapter if (adapter / "tokenizer_config.json").is_file() else resolve_model(base)
    AutoTokenizer.from_pretrained(tokenizer_dir, trust_remote_code=trust_remote_code).save_pretrained(out_dir)


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, *, overwrite: bool = False,
               push_to_hub: str | None = None, evaluation: dict | None = None) -> Exported:
    """Write the run's model to ``out_dir`` as a standalone model with its card; optionally push it to the Hub.

    ``evaluation`` (e.g. what :func:`minir1.evaluate.run_eval` returns) goes into the card, else the run's
    last evaluation during training, if any. ``push_to_hub`` is a Hub repository id (``you/model``).
    """
    run, out = Path(run_dir).expanduser(), Path(out_dir)
    cfg = check_paths(run, out, overwrite)
    final = run / runs.FINAL
    merged = (final / "adapter_config.json").is_file()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.partial-", ignore_cleanup_errors=True) as tmp:
        partial = Path(tmp)
        if merged:
            merge_adapter(final, cfg.model, partial, getattr(cfg.args, "trust_remote_code", False))
        else:
            shutil.copytree(final, partial, ignore=shutil.ignore_patterns("training_args.bin"), dirs_exist_ok=True)
        report.write_model_card(partial, cfg, read_json(run / runs.SUMMARY), evaluation, merged=merged)  # {}: none yet
        marker = {"exported_by": "minir1 export", "run": str(run.resolve()), "base_model": cfg.model, "merged": merged}
        write_json(partial / MARKER, marker)
        move_into_place(partial, out)  # on a failure before this, leaving the block removes the partial export
    message = f"minir1 export of {run.name} ({cfg.recipe or 'run'})"
    url = report.push_folder(out, push_to_hub, message) if push_to_hub else None
    return Exported(out, merged, cfg.model, url)


def cli_export(args) -> int:
    """``minir1 export RUN_DIR OUT_DIR [--overwrite] [--push_to_hub REPO_ID]``."""
    from .train import configure_logging

    configure_logging()
    result = export_run(args.run_dir, args.out_dir, overwrite=args.overwrite, push_to_hub=args.push_to_hub)
    what = f"merged the LoRA adapter into {result.base_model}" if result.merged else "copied the fully fine-tuned model"
    print(f"{what}: {result.out_dir}")
    print(f'load it with AutoModelForCausalLM.from_pretrained("{result.out_dir}"), or: minir1 chat --model '
          f"{result.out_dir}")
    if result.url:
        print(f"pushed to {result.url}")
    return 0
