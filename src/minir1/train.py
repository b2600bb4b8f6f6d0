"""``minir1 train``: GRPO through TRL, read top to bottom.

:func:`train` is the whole recipe: check the settings (TRL's included), the run
folder, the data and the model, and only then create the run folder; build
rewards and TRL's trainer (LoRA through peft unless turned off), train, save the
final model with its card, plot. The GRPO loop itself is TRL's ``GRPOTrainer``,
wired with callbacks and never subclassed.

The run folder (``output_dir``, default ``runs/<recipe>``) is defined in
:mod:`minir1.runs`. ``--overwrite`` replaces only a run folder (or an empty one);
``--resume`` continues with the saved settings, and only :data:`RESUMABLE` ones
may change.
"""

from __future__ import annotations

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

from . import rewards, runs
from .config import TrainConfig, from_command_line, save_config
from .data import load_problems, prompt_rows
from .errors import UserError
from .evaluate import EvalSettings
from .folders import check_replaceable
from .machine import describe, is_main_process, validate, world_size
from .models import resolve_model

log = logging.getLogger("minir1")

# What a resumed run may change: how long it trains and what it records, never what it learns from or how.
RESUMABLE = ("max_steps", "num_train_epochs", "save_steps", "save_total_limit", "logging_steps", "report_to",
             "log_completions", "plot", "push_final_to", "sample_every", "num_samples", "eval_every", "eval_limit",
             "health_window")


@dataclass
class TrainResult:
    run_dir: Path
    final_dir: Path | None
    steps: int
    interrupted: bool
    summary: dict
    already_finished: bool = False  # --resume found the run complete and did nothing


def train(cfg: TrainConfig, command: str | None = None, callbacks: list | None = None) -> TrainResult:
    """Run GRPO as ``cfg`` says and return where everything went.

    ``callbacks`` are extra ``transformers.TrainerCallback``s, run after minir1's own.
    """
    args = validate(cfg)  # the typed GRPOConfig the settings were parsed into, checked against this machine
    replace = check_run_dir(cfg)
    checkpoint = None
    if cfg.resume:
        saved = runs.saved_settings(cfg.run_dir)
        if "model_init_kwargs" not in cfg.given and saved.get("model_init_kwargs") is not None:
            args.model_init_kwargs = saved["model_init_kwargs"]  # the dtype the run chose (cpu_training_dtype)
        check_resume(cfg, args, saved)
        done = finished_run(cfg, args)
        if done is not None:
            _finish_processes()
            return done
        checkpoint = runs.latest_checkpoint(cfg.run_dir)
    if world_size() > 1:
        log.info("process %s of %d taking part", os.environ.get("RANK", "?"), world_size())
    problems = load_problems(cfg.data, question_field=cfg.question_field, answer_field=cfg.answer_field,
                             limit=cfg.data_limit)
    periodic = held_out = None
    if cfg.eval_every:  # evaluation during training
        periodic = EvalSettings(cfg.model, data=cfg.eval_data, limit=cfg.eval_limit, tag_style=cfg.style,
                                system_prompt=cfg.system_prompt, prefill=cfg.prefill or None,
                                max_new_tokens=args.max_completion_length)
        held_out = load_problems(periodic.data, limit=periodic.limit)
    model_path = resolve_model(cfg.model)
    if args.use_cpu and not cfg.resume and not {"model_init_kwargs", "bf16", "fp16"} & cfg.given:
        from .models import cpu_training_dtype

        args.model_init_kwargs = {"dtype": cpu_training_dtype(model_path, cfg.lora)}
    check_lora_targets(cfg, model_path, args.trust_remote_code)
    reward_fns, weights = rewards.resolve(cfg.reward_names, cfg.weights)
    rows = prompt_rows(problems, cfg.style, cfg.system_prompt, cfg.prefill)
    if cfg.prefill:
        rows = render_prefilled(rows, model_path, args.trust_remote_code)
    run = prepare_run_dir(cfg, command, args, replace)  # every check has passed: now the folder

    import torch
    from datasets import Dataset
    from trl import GRPOTrainer

    from .callbacks import (
        ContiguousHeadInput,
        GracefulStop,
        MetricsLogger,
        PeriodicEval,
        ProgressBar,
        SampleRecorder,
        use_progress_bar,
    )

    on_gpu = torch.cuda.is_available()
    if cfg.sample_every:
        reward_fns[-1] = SampleRecorder(reward_fns[-1], run / "samples.jsonl", cfg.sample_every, cfg.num_samples,
                                        dict(zip(cfg.reward_names, weights, strict=True)), cfg.reward_points)
    metrics = MetricsLogger(run, args.per_device_train_batch_size * args.gradient_accumulation_steps * world_size(),
                            health_monitor(cfg))
    stop = GracefulStop()
    ours = [metrics, stop, ContiguousHeadInput()]
    if held_out:
        ours.append(PeriodicEval(cfg.eval_every, held_out, periodic, metrics))
    trainer = GRPOTrainer(model=model_path, reward_funcs=reward_fns, args=args, train_dataset=Dataset.from_list(rows),
                          peft_config=lora_config(cfg), callbacks=ours + list(callbacks or []))
    use_progress_bar(trainer, ProgressBar.for_grpo(cfg.reward_points))
    if checkpoint:
        log.info("resuming from %s", checkpoint)

    start = time.perf_counter()
    if on_gpu:
        torch.cuda.reset_peak_memory_stats()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    steps = trainer.state.global_step

    final = None
    if not stop.stopped:
        final = run / runs.FINAL
        trainer.save_model(str(final))
    summary = {}
    if trainer.is_world_process_zero():
        summary = write_summary(run, cfg, steps, time.perf_counter() - start, stop.stopped, on_gpu)
        from .report import write_model_card, write_run_readme

        write_run_readme(run)  # replaces the generic card TRL leaves at the run's root
        if final is not None:
            trainer.processing_class.save_pretrained(str(final))
            write_model_card(final, cfg, summary)
            if cfg.push_final_to:
                from .report import push_folder

                push_folder(final, cfg.push_final_to, f"minir1 {cfg.recipe or 'run'}: {steps} steps")
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
    """peft's LoraConfig (None without LoRA).

    Not TRL's ``get_peft_config(ModelConfig(...))``: ``ModelConfig`` turns a one-module list
    into a string, which peft reads as a pattern that must match a module's whole dotted
    name, so ``--lora_target_modules q_proj`` would match nothing.
    """
    if not cfg.lora:
        return None
    from peft import LoraConfig

    targets = cfg.lora_target_modules
    if targets == ["all-linear"]:  # peft's keyword is a string; as a list it would name a module
        targets = "all-linear"
    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")


def check_lora_targets(cfg: TrainConfig, model_path: str, trust_remote_code: bool) -> None:
    """Every LoRA target names a module of the model, checked on an empty (meta-device) copy of it before any
    folder is made: peft would otherwise fail inside the trainer's constructor, after the run folder exists."""
    targets = cfg.lora_target_modules
    if not cfg.lora or targets == ["all-linear"]:
        return
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    with init_empty_weights():
        config = AutoConfig.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    names = [n for n, _ in model.named_modules() if n]
    leaves = sorted({n.rsplit(".", 1)[-1] for n in names})
    for target in targets:
        if not any(n == target or n.endswith("." + target) for n in names):
            close = [x for x in leaves if x.endswith("_proj")] or leaves
            raise UserError(f"lora_target_modules: the model has no module named {target!r} (its linear layers "
                            f"include {', '.join(close[:8])}; or use all-linear)")


def render_prefilled(rows: list[dict], model_path: str, trust_remote_code: bool) -> list[dict]:
    """Prompts that end with an assistant prefill, as text the chat template continues.

    TRL renders a chat prompt with ``add_generation_prompt=True``, which would close the
    prefill's turn and open a new one; a text prompt is tokenized as it is, so the
    model continues the prefill. The ``prefill`` column still reaches the rewards.
    """
    from transformers import AutoTokenizer

    from .prompts import render_prompt

    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
    return [{**row, "prompt": render_prompt(tokenizer, row["prompt"])} for row in rows]


def health_monitor(cfg: TrainConfig):
    from .callbacks import HealthMonitor

    weights = cfg.reward_points
    correctness = "correctness" if "correctness" in weights else None
    formats = {k: v for k, v in weights.items() if k != "correctness"}
    return HealthMonitor(cfg.health_window, cfg.args.max_completion_length, formats, correctness)


def check_run_dir(cfg: TrainConfig) -> bool:
    """Check the run folder without touching it; True when it is to be replaced (--overwrite).

    Every process checks, so all of them reach the same verdict before the main one writes.
    """
    run = cfg.run_dir
    if run.exists() and not run.is_dir():
        raise UserError(f"output_dir {run} is a file: give a folder path")
    if cfg.resume:
        runs.require_run(run, "nothing to resume there (drop --resume to start a new run)")
        return False
    if not check_replaceable(run, runs.MARKER, cfg.overwrite, "a minir1 run folder", "--resume to continue it"):
        return False
    for what, path in (("model", cfg.model), ("data", cfg.data), ("eval_data", cfg.eval_data)):
        p = Path(path).expanduser()
        if p.exists() and p.resolve().is_relative_to(run.resolve()):
            raise UserError(f"--overwrite would delete the {what} {path}, which is inside {run}: move it, or "
                            "choose another --output_dir")
    return True


def check_resume(cfg: TrainConfig, args, saved: dict) -> None:
    """A resumed run keeps its ``saved`` settings: refuse any change but the :data:`RESUMABLE` ones, in one line."""
    run = cfg.run_dir
    now = {**cfg.resolved(), **_json(args.to_dict())}
    ignore = {*RESUMABLE, "overwrite", "resume", "output_dir", "local_rank"}
    changed = [k for k in saved if k in now and k not in ignore and saved[k] != now[k]]
    if changed:
        k = changed[0]
        raise UserError(f"--resume continues {run} with its own settings, but {k} would change from {saved[k]!r} to "
                        f"{now[k]!r}: on resume only {', '.join(RESUMABLE)} may change; start a new run (another "
                        "--output_dir) for other settings")


def _json(d: dict) -> dict:
    return json.loads(json.dumps(d, default=str))


def finished_run(cfg: TrainConfig, args) -> TrainResult | None:
    """The result of a run that already reached its end (max_steps or num_train_epochs, and final/), else None."""
    run = cfg.run_dir
    if not (run / runs.FINAL).is_dir():
        return None
    summary_file = run / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else {}
    try:
        state = json.loads((runs.latest_checkpoint(run) / "trainer_state.json").read_text(encoding="utf-8"))
    except UserError:  # no checkpoint: final/ is all there is
        state = {"global_step": summary.get("steps", 0), "epoch": args.num_train_epochs}
    step = state["global_step"]
    done = step >= args.max_steps if args.max_steps > 0 else state.get("epoch", 0) >= args.num_train_epochs - 1e-9
    if not done:
        return None
    log.info("%s already finished at step %d: nothing to do (to train further, resume with a larger --max_steps)",
             run, step)
    return TrainResult(run, run / runs.FINAL, step, False, summary, already_finished=True)


def prepare_run_dir(cfg: TrainConfig, command: str | None, args, replace: bool) -> Path:
    """Create (or replace, or reuse when resuming) the run folder; save the settings and the launch record."""
    run = cfg.run_dir
    _wait_for_everyone()  # every process has passed its checks
    if is_main_process():
        if replace:
            shutil.rmtree(run)
        run.mkdir(parents=True, exist_ok=True)
        runs.mark(run)
        save_config(cfg, run / runs.CONFIG, command)
        (run / runs.TRL_CONFIG).write_text(json.dumps(_json(args.to_dict()), indent=2) + "\n", encoding="utf-8")
        with (run / runs.LAUNCHES).open("a", encoding="utf-8") as f:
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
    return {"command": command, "resumed": resumed, "processes": world_size(), "host": platform.node(), **describe()}


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


def cli_train(args) -> int:
    """``minir1 train --config RECIPE [--setting value ...]`` or ``minir1 train --resume --output_dir RUN``."""
    argv = list(args.argv)
    cfg = from_command_line(argv)
    command = "minir1 train " + " ".join(shlex.quote(a) for a in argv)
    configure_logging()
    result = train(cfg, command)
    if result.interrupted:
        return 130
    if not is_main_process():
        return 0
    if result.already_finished:
        print(f"{result.run_dir} already finished at step {result.steps}: nothing to do (resume with a larger "
              "--max_steps to train further)")
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
