"""``minir1 train``: GRPO through TRL, read top to bottom.

:func:`train` is the whole recipe: check the settings, prepare the run folder,
load problems, build rewards, build TRL's config and trainer (LoRA through peft
unless turned off), train, save the final model with its card, plot. The GRPO
loop itself is TRL's ``GRPOTrainer``, wired with callbacks and never subclassed.

The run folder (``--output_dir``, default ``runs/<recipe>``) holds
``config.yaml`` (resolved settings), ``launches.jsonl`` (command line, versions,
machine, one line per start), ``metrics.jsonl``, ``samples.jsonl``,
``checkpoint-N/``, ``final/`` (adapter or model, with ``README.md``), ``plots/``
and ``summary.json``. It is never overwritten without ``--overwrite``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import rewards
from .config import FIELDS, TrainConfig, grpo_kwargs, is_main_process, load_config, save_config, validate, world_size
from .data import load_problems, prompt_rows
from .errors import UserError
from .models import resolve_model

log = logging.getLogger("minir1")


@dataclass
class TrainResult:
    run_dir: Path
    final_dir: Path | None
    steps: int
    interrupted: bool
    summary: dict


def train(cfg: TrainConfig, command: str | None = None, callbacks: list | None = None) -> TrainResult:
    """Run GRPO as ``cfg`` says and return where everything went.

    ``callbacks`` are extra ``transformers.TrainerCallback``s, run after minir1's own.
    """
    validate(cfg)
    run = prepare_run_dir(cfg, command)
    if world_size() > 1:
        log.info("process %s of %d taking part", os.environ.get("RANK", "?"), world_size())
    problems = load_problems(cfg.data, question_field=cfg.question_field, answer_field=cfg.answer_field,
                             limit=cfg.data_limit)
    held_out = load_problems(cfg.eval_data, limit=cfg.eval_limit) if cfg.eval_every else None
    model_path = resolve_model(cfg.model)
    reward_fns, weights = rewards.resolve(cfg.reward_names, cfg.weights)

    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from .callbacks import GracefulStop, MetricsLogger, PeriodicEval, ProgressBar, SampleRecorder, use_progress_bar

    on_gpu = torch.cuda.is_available()
    args = GRPOConfig(**grpo_kwargs(cfg, on_gpu, on_gpu and torch.cuda.is_bf16_supported(including_emulation=False)))
    dataset = Dataset.from_list(prompt_rows(problems, cfg.style, cfg.system_prompt))
    if cfg.sample_every:
        reward_fns[-1] = SampleRecorder(reward_fns[-1], run / "samples.jsonl", cfg.sample_every, cfg.num_samples,
                                        dict(zip(cfg.reward_names, weights, strict=True)), cfg.reward_points)
    metrics = MetricsLogger(run, cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps * world_size(),
                            health_monitor(cfg))
    stop = GracefulStop()
    ours = [metrics, stop]
    if held_out:
        ours.append(PeriodicEval(cfg.eval_every, held_out, cfg.style, cfg.system_prompt,
                                 cfg.max_completion_length, metrics))
    trainer = GRPOTrainer(model=model_path, reward_funcs=reward_fns, args=args, train_dataset=dataset,
                          peft_config=lora_config(cfg), callbacks=ours + list(callbacks or []))
    use_progress_bar(trainer, ProgressBar.for_grpo(cfg.reward_points))
    if cfg.resume:
        checkpoint = latest_checkpoint(run)
        log.info("resuming from %s", checkpoint)
    else:
        checkpoint = None

    start = time.perf_counter()
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    steps = trainer.state.global_step

    final = None
    if not stop.stopped:
        final = run / "final"
        trainer.save_model(str(final))
    summary = {}
    if trainer.is_world_process_zero():
        summary = write_summary(run, cfg, steps, time.perf_counter() - start, stop.stopped, on_gpu)
        from .report import write_model_card, write_run_readme

        write_run_readme(run)  # replaces the generic card TRL leaves at the run's root
        if final is not None:
            trainer.processing_class.save_pretrained(str(final))
            write_model_card(final, cfg, summary)
            if cfg.push_to_hub:
                from .report import push_folder

                push_folder(final, cfg.hub_model_id, f"minir1 {cfg.recipe or 'run'}: {steps} steps")
        if cfg.plot and summary.get("final_rewards"):
            from .plots import write_plots

            write_plots(run)
    if stop.stopped:
        log.warning("stopped by %s at step %d; checkpoint saved in %s. Continue with: minir1 train "
                    "--resume --output_dir %s", stop.signal_name, steps, run, run)
    _finish_processes()
    return TrainResult(run, final, steps, stop.stopped, summary)


# --- pieces of the recipe ----------------------------------------------------------------------


def lora_config(cfg: TrainConfig):
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.lora_target_modules, task_type="CAUSAL_LM")


def health_monitor(cfg: TrainConfig):
    from .callbacks import HealthMonitor

    weights = cfg.reward_points
    correctness = "correctness" if "correctness" in weights else None
    formats = {k: v for k, v in weights.items() if k != "correctness"}
    return HealthMonitor(cfg.health_window, cfg.max_completion_length, formats, correctness)


def latest_checkpoint(run: Path) -> Path:
    """The checkpoint-N folder with the highest N that holds a complete trainer state."""
    found = []
    for p in run.glob("checkpoint-*"):
        suffix = p.name.split("-", 1)[1]
        if suffix.isdigit() and (p / "trainer_state.json").is_file():
            found.append((int(suffix), p))
    if not found:
        raise UserError(f"nothing to resume in {run}: it has no complete checkpoint-N folder "
                        "(drop --resume to start over with --overwrite)")
    return max(found)[1]


def prepare_run_dir(cfg: TrainConfig, command: str | None) -> Path:
    """Create (or check, when resuming) the run folder; save config.yaml and the launch record."""
    run = cfg.run_dir
    # Every process checks before any writes, so all of them reach the same verdict.
    replace = False
    if cfg.resume:
        latest_checkpoint(run)
    elif run.exists() and any(run.iterdir()):
        if not cfg.overwrite:
            raise UserError(f"run folder {run} already exists: pass --overwrite to replace it, --resume to "
                            "continue it, or choose another --output_dir")
        replace = True
    _wait_for_everyone()
    if is_main_process():
        if replace:
            shutil.rmtree(run)
        run.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run / "config.yaml", command)
        with (run / "launches.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(launch_record(command, cfg.resume)) + "\n")
    _wait_for_everyone()
    return run


def _wait_for_everyone() -> None:
    if world_size() > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def _finish_processes() -> None:
    """Wait until the main process has written everything, then close the process group cleanly
    (a process that exits while others still use the group is aborted by the gloo/NCCL threads)."""
    if world_size() > 1:
        import torch.distributed as dist

        _wait_for_everyone()
        if dist.is_initialized():
            dist.destroy_process_group()


def launch_record(command: str | None, resumed: bool) -> dict:
    import importlib.metadata as md

    versions = {}
    for name in ("minir1", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "vllm"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "command": command,
            "resumed": resumed, "host": platform.node(), "python": platform.python_version(),
            "processes": world_size(), "versions": versions}


def write_summary(run: Path, cfg: TrainConfig, steps: int, seconds: float, interrupted: bool,
                  on_gpu: bool) -> dict:
    """``summary.json``: steps, time, peak memory, and rewards averaged over the last logged steps."""
    import resource

    import torch

    from .jsonl import read_jsonl
    from .plots import METRICS

    logged = read_jsonl(run / METRICS)
    records = [r for r in logged if "reward" in r]
    last = records[-10:]
    final_rewards = {}
    for name, weight in cfg.reward_points.items():
        values = [r[f"rewards/{name}/mean"] for r in last if f"rewards/{name}/mean" in r]
        if values:
            final_rewards[name] = {"mean": sum(values) / len(values), "points": weight * sum(values) / len(values),
                                   "of": weight}
    if last:
        final_rewards["total"] = {"points": sum(r["reward"] for r in last) / len(last), "of": sum(cfg.weights)}
    evals = [r for r in logged if "eval/accuracy" in r]
    summary = {
        "steps": steps,
        "seconds_this_launch": round(seconds, 1),
        "interrupted": interrupted,
        "final_rewards": final_rewards,
        "final_rewards_over_steps": [last[0]["step"], last[-1]["step"]] if last else None,
        "last_eval": evals[-1] if evals else None,
        "peak_cpu_memory_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "peak_gpu_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if on_gpu else None,
    }
    (run / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


# --- command line -------------------------------------------------------------------------------


def settings_help() -> str:
    lines = ["usage: minir1 train --config RECIPE [--setting value ...]", "",
             "RECIPE is a bundled recipe (mini-r1, grpo-demo, tiny) or a YAML file; settings on the command line",
             "override it. To continue a run: minir1 train --resume --output_dir RUN_DIR.", "", "settings:"]
    defaults = TrainConfig()
    for name, f in FIELDS.items():
        lines.append(f"  --{name:<30} {f.metadata['help']} [default: {getattr(defaults, name)}]")
    return "\n".join(lines)


def cli_train(args) -> int:
    """``minir1 train --config RECIPE [--setting value ...]``."""
    argv = list(args.argv)
    if not argv or "-h" in argv or "--help" in argv:
        print(settings_help())
        return 0
    recipe = None
    if "--config" in argv:
        i = argv.index("--config")
        if i + 1 >= len(argv):
            raise UserError("--config needs a recipe name or a YAML path")
        recipe = argv[i + 1]
        del argv[i: i + 2]
    from .config import parse_overrides

    overrides = parse_overrides(argv)
    if recipe is None:
        if overrides.get("resume") and overrides.get("output_dir"):
            recipe = str(Path(overrides["output_dir"]) / "config.yaml")  # the run's own settings
            if not Path(recipe).is_file():
                raise UserError(f"{overrides['output_dir']} is not a run folder (no config.yaml) to resume")
        else:
            raise UserError("no recipe: pass --config mini-r1 (or grpo-demo, tiny, or a YAML path)")
    cfg = load_config(recipe, overrides)
    command = "minir1 train " + " ".join(shlex.quote(a) for a in args.argv)
    configure_logging()
    result = train(cfg, command)
    if result.interrupted:
        return 130
    if not is_main_process():
        return 0
    print(f"run folder: {result.run_dir}")
    total = result.summary.get("final_rewards", {}).get("total")
    if total:
        print(f"final total reward: {total['points']:.2f} of {total['of']:g} (mean of the last logged steps)")
    return 0


def configure_logging() -> None:
    """Our messages at INFO on stderr; the libraries' deprecation chatter and weight-loading bars off."""
    import warnings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
