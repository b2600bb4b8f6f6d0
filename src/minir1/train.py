"""``minir1 train``: GRPO through TRL, read top to bottom.

:func:`train` checks the settings, the run folder (:mod:`minir1.runs`), the data and the model before it creates
the folder; then it trains with TRL's ``GRPOTrainer`` (wired with callbacks, never subclassed), saves the final
model with its card and plots.
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
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging
from trl import GRPOConfig

from . import rewards, runs
from .callbacks import (
    GracefulStop,
    HealthMonitor,
    MetricsLogger,
    PeriodicEval,
    ProgressBar,
    SampleRecorder,
    mean_of,
    use_progress_bar,
)
from .config import TRL_DEFAULTS, Parser, TrainConfig, defaults, load_config, parser
from .data import Problem, at_most_steps, is_gsm8k, load_problems, prompt_rows
from .errors import UserError
from .evaluate import EvalSettings
from .folders import check_replaceable
from .jsonl import append, read_json, read_jsonl, write_json
from .machine import describe, is_main_process, validate, world_size
from .models import contiguous_head_input, cpu_training_dtype, resolve_model
from .plots import write_plots
from .prompts import render_prompt
from .recipes import list_recipes
from .report import push_folder, write_model_card, write_run_readme

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
    """Run GRPO as ``cfg`` says and return where everything went; ``callbacks`` (``TrainerCallback``s) run after
    minir1's own."""
    args = validate(cfg)  # the typed GRPOConfig the settings were parsed into, checked against this machine
    replace = check_run_dir(cfg)
    checkpoint = None
    if cfg.resume:
        saved = runs.saved_settings(cfg.run_dir)
        if "model_init_kwargs" not in cfg.asked and saved.get("model_init_kwargs") is not None:
            args.model_init_kwargs = saved["model_init_kwargs"]  # the dtype the run chose (cpu_training_dtype)
        check_resume(cfg, args, saved)
        done = finished_run(cfg, args)
        if done is not None:
            _sync(finish=True)
            return done
        checkpoint = runs.latest_checkpoint(cfg.run_dir)
        log.info("resuming from %s", checkpoint)
    if world_size() > 1:
        log.info("process %s of %d taking part", os.environ.get("RANK", "?"), world_size())
    problems = training_problems(cfg)
    periodic = held_out = None
    if cfg.eval_every:  # evaluation during training
        # a file or Hub set of the user's is read with the fields of --data; GSM8K with its own
        fields = {} if is_gsm8k(cfg.eval_data) else {"question_field": cfg.question_field,
                                                        "answer_field": cfg.answer_field}
        periodic = EvalSettings(cfg.model, data=cfg.eval_data, limit=cfg.eval_limit, tag_style=cfg.style,
                                system_prompt=cfg.system_prompt, prefill=cfg.prefill or None,
                                max_new_tokens=args.max_completion_length, **fields)
        held_out = periodic.problems()
    model_path = resolve_model(cfg.model)
    if args.use_cpu and not cfg.resume and not cfg.asked.keys() & {"model_init_kwargs", "bf16", "fp16"}:
        args.model_init_kwargs = {"dtype": cpu_training_dtype(model_path, cfg.lora)}
    check_lora_targets(cfg, model_path, args.trust_remote_code)
    reward_fns, weights = rewards.resolve(cfg.reward_names, cfg.weights)
    rows = prompt_rows(problems, cfg.style, cfg.system_prompt, cfg.prefill)
    if cfg.prefill:
        rows = render_prefilled(rows, model_path, args.trust_remote_code)
    run = prepare_run_dir(cfg, command, args, replace)  # every check has passed: now the folder

    from datasets import Dataset
    from trl import GRPOTrainer

    stop_ids: list[int] = []  # the trainer's end-of-sequence and padding ids, once it has loaded the tokenizer
    if not cfg.score_truncated:
        reward_fns = [rewards.UnscoredWhenCut(fn, stop_ids) for fn in reward_fns]
        if not args.mask_truncated_completions:
            log.warning("score_truncated: false leaves cut completions out of their group's mean and spread, but "
                        "without --mask_truncated_completions true they stay in the loss (its KL term and "
                        "normalisation) with advantage 0")
    if cfg.sample_every:
        reward_fns[-1] = SampleRecorder(reward_fns[-1], run / runs.SAMPLES, cfg.sample_every, cfg.num_samples,
                                        dict(zip(cfg.reward_names, weights, strict=True)))
    health = HealthMonitor(cfg.health_window, args.max_completion_length, cfg.reward_points)
    metrics = MetricsLogger(run, args.per_device_train_batch_size * args.gradient_accumulation_steps * world_size(),
                            health)
    stop = GracefulStop()
    ours = [metrics, stop]
    if held_out:
        ours.append(PeriodicEval(cfg.eval_every, held_out, periodic, metrics))
    trainer = GRPOTrainer(model=model_path, reward_funcs=reward_fns, args=args, train_dataset=Dataset.from_list(rows),
                          peft_config=lora_config(cfg), callbacks=ours + list(callbacks or []))
    tokenizer = getattr(trainer.processing_class, "tokenizer", trainer.processing_class)
    stop_ids.extend([*trainer.eos_token_ids, tokenizer.pad_token_id])  # as TRL tells a cut completion
    contiguous_head_input(trainer.model)  # on the model TRL trains and samples from
    use_progress_bar(trainer, ProgressBar.for_grpo(cfg.reward_points))

    start = time.perf_counter()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trl_log = logging.getLogger("trl.trainer.grpo_trainer")
    if not cfg.score_truncated:  # for this run only
        trl_log.addFilter(_no_unscored_warning)
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        trl_log.removeFilter(_no_unscored_warning)
    steps = trainer.state.global_step

    final = None if stop.stopped else run / runs.FINAL
    if final is not None:
        trainer.save_model(str(final))
    summary = {}
    if trainer.is_world_process_zero():
        summary = write_summary(run, cfg, steps, time.perf_counter() - start, stop.stopped)
        write_run_readme(run)  # replaces the generic card TRL leaves at the run's root
        if final is not None:
            trainer.processing_class.save_pretrained(str(final))
            write_model_card(final, cfg, summary)
            if cfg.push_final_to:
                push_folder(final, cfg.push_final_to, f"minir1 {cfg.recipe or 'run'}: {steps} steps")
        if cfg.plot and summary.get("final_rewards"):
            write_plots(run)
    if stop.stopped:
        log.warning("stopped by %s at step %d; checkpoint saved in %s. Continue with: minir1 train "
                    "--resume --output_dir %s", stop.signal_name, steps, run, run)
    _sync(finish=True)
    return TrainResult(run, final, steps, stop.stopped, summary)


# --- pieces of the recipe ----------------------------------------------------------------------


def lora_config(cfg: TrainConfig):
    """peft's LoraConfig (None without LoRA). Not TRL's ``get_peft_config(ModelConfig(...))``: ``ModelConfig``
    turns a one-module list into a string, which peft reads as a pattern for a module's whole dotted name, so
    ``--lora_target_modules q_proj`` would match nothing."""
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
    """Prompts that end with an assistant prefill, as text the chat template continues: TRL would render a chat
    prompt with ``add_generation_prompt=True``, closing the prefill's turn and opening a new one. The ``prefill``
    column still reaches the rewards."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)  # resolved already
    return [{**row, "prompt": render_prompt(tokenizer, row["prompt"])} for row in rows]


def check_run_dir(cfg: TrainConfig) -> bool:
    """Check the run folder without touching it; True when it is to be replaced (--overwrite). Every process
    checks, so all of them reach the same verdict before the main one writes."""
    run = cfg.run_dir
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


def _no_unscored_warning(record: logging.LogRecord) -> bool:
    """Drop TRL's warning for a completion with no reward, which ``score_truncated: false`` means on purpose: it
    would print every such completion's prompt each step (their share is TRL's ``completions/clipped_ratio``).
    On for the run's training only; TRL's message does not say why a row has no reward, so during such a run a
    row that a custom reward left unscored for its own reason goes unreported too."""
    return "All reward functions returned None" not in record.getMessage()


def training_problems(cfg: TrainConfig) -> list[Problem]:
    """The problems a run trains on: those of ``--data``; with ``max_solution_steps``, the ones whose worked solution
    has at most that many steps; then the first ``data_limit``."""
    fields = {"question_field": cfg.question_field, "answer_field": cfg.answer_field}
    if cfg.max_solution_steps is None:
        return load_problems(cfg.data, limit=cfg.data_limit, **fields)
    every = load_problems(cfg.data, **fields)
    kept = at_most_steps(every, cfg.max_solution_steps, cfg.data)[:cfg.data_limit]
    log.info("training on %d of %d problems: %s whose solution has at most %d steps", len(kept), len(every),
             "the first" if cfg.data_limit else "those", cfg.max_solution_steps)
    return kept


def check_resume(cfg: TrainConfig, args, saved: dict) -> None:
    """A resumed run keeps its ``saved`` settings: refuse any change but the :data:`RESUMABLE` ones, in one line."""
    run = cfg.run_dir
    now = {**cfg.resolved(), **_json(args.to_dict())}
    # a setting of minir1's newer than the run (not in its config.yaml): the run trained with its default
    saved = {**_json({k: v for k, v in defaults(TrainConfig).items() if k not in ("tag_style", "rewards")}), **saved}
    ignore = {*RESUMABLE, "overwrite", "resume", "output_dir", "local_rank"}
    if changed := [k for k in saved if k in now and k not in ignore and saved[k] != now[k]]:
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
    summary = read_json(run / runs.SUMMARY)
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
    _sync()  # every process has passed its checks
    if is_main_process():
        if replace:
            shutil.rmtree(run)
        run.mkdir(parents=True, exist_ok=True)
        runs.mark(run)
        runs.save_config(cfg, run / runs.CONFIG, command)
        write_json(run / runs.TRL_CONFIG, _json(args.to_dict()))
        launch = {"command": command, "resumed": cfg.resume, "processes": world_size(), "host": platform.node()}
        append(run / runs.LAUNCHES, [{**launch, **describe()}])
    _sync()
    return run


def _sync(finish: bool = False) -> None:
    """Wait for every process; with ``finish``, then close the process group cleanly (a process that exits while
    others still use the group is aborted by the gloo/NCCL threads)."""
    if world_size() > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()
        if finish:
            PartialState().destroy_process_group()


def write_summary(run: Path, cfg: TrainConfig, steps: int, seconds: float, interrupted: bool) -> dict:
    """``summary.json``: steps, time, peak memory, and rewards averaged over the last logged steps."""
    import resource

    logged = read_jsonl(run / runs.METRICS)
    last = [r for r in logged if "reward" in r][-10:]
    final_rewards = {}
    for name, weight in cfg.reward_points.items():
        if (mean := mean_of(last, f"rewards/{name}/mean")) is not None:
            final_rewards[name] = {"mean": mean, "points": weight * mean, "of": weight}
    if last:
        final_rewards["total"] = {"points": mean_of(last, "reward"), "of": sum(cfg.weights)}
    summary = {
        "steps": steps,
        "seconds_this_launch": round(seconds, 1),
        "interrupted": interrupted,
        "final_rewards": final_rewards,
        "final_rewards_over_steps": [last[0]["step"], last[-1]["step"]] if last else None,
        "last_eval": next((r for r in reversed(logged) if "eval/accuracy" in r), None),
        "peak_cpu_memory_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "peak_gpu_memory_gb": (round(torch.cuda.max_memory_allocated() / 2**30, 2) if torch.cuda.is_available()
                               else None),
    }
    write_json(run / runs.SUMMARY, summary)
    return summary


# --- command line -------------------------------------------------------------------------------


def train_settings(argv: list[str]):
    """``minir1 train``'s settings: ``--config RECIPE``, or ``--resume`` and the run (``--output_dir``, or
    ``runs/<recipe>``) whose ``config.yaml`` is then the recipe, then ``--name value``s. What a resume may still
    change is checked by :func:`minir1.train.train`."""
    from transformers.hf_argparser import string_to_bool

    pick = Parser(add_help=False, allow_abbrev=False)  # the three options that choose where settings come from
    pick.add_argument("--config")
    pick.add_argument("--resume", nargs="?", const=True, default=False, type=string_to_bool)
    pick.add_argument("--output_dir", "--output-dir")
    first, argv = pick.parse_known_args(argv)  # the rest are settings for the settings parser
    recipe, run = first.config, first.output_dir
    if first.resume:
        run = run or (str(Path("runs") / Path(recipe).stem) if recipe else None)
        if run is None:
            raise UserError("--resume needs the run: minir1 train --resume --output_dir RUN_DIR")
        runs.require_run(run, "nothing to resume there (drop --resume to start a new run)")
        recipe, argv = str(Path(run) / runs.CONFIG), [*argv, "--resume"]
    elif not recipe:
        others = ", ".join(r for r in list_recipes() if r != "mini-r1")
        raise UserError(f"no recipe: pass --config mini-r1 (or {others}, or a path ending in .yaml)")
    return load_config(recipe, [*argv, "--output_dir", run] if run else argv)


def cli_train(args) -> int:
    """``minir1 train --config RECIPE [--setting value ...]`` or ``minir1 train --resume --output_dir RUN``."""
    argv = list(args.argv)
    if not argv or {"-h", "--help", "--help-all"} & set(argv):
        print_help(everything="--help-all" in argv)
        return 0
    cfg = train_settings(argv)
    command = "minir1 train " + shlex.join(argv)
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


def print_help(everything: bool) -> None:
    """``minir1 train --help``: minir1's settings and its choices for TRL's; ``--help-all``: every field."""
    if everything:
        print(parser().format_help())
        return
    p = parser(TrainConfig)
    p.usage = "minir1 train --config RECIPE [--setting value ...]\n       minir1 train --resume --output_dir RUN_DIR"
    p.description = ("RECIPE is a bundled recipe (" + ", ".join(list_recipes()) + ") or a path ending in .yaml. Every "
                     "setting, minir1's below and every TRL GRPOConfig field, can be set in a recipe or on the command "
                     "line (--name value, lists as --name a b, booleans true/false).")
    trl = defaults(GRPOConfig)
    text = lambda v: str(v).lower() if isinstance(v, bool) else str(v)  # noqa: E731
    print(p.format_help() + "\nTRL settings minir1 chooses (between TRL's defaults and the recipe):\n"
          + "\n".join(f"  --{k} {text(v)}  (TRL's: {text(trl[k])})" for k, v in TRL_DEFAULTS.items())
          + "\n  --activation_checkpointing false  (TRL's: true, as gradient_checkpointing)"
          + "\n  --use_cpu true without CUDA; --bf16 true on a GPU with bf16, else false; model_init_kwargs"
          + " {dtype: ...} to match (on a CPU: bf16 for the frozen base of a LoRA run on a bf16-saved model where the"
          + " CPU has bf16 instructions, else fp32)\n"
          + f"\nEvery GRPOConfig field ({len(trl)} of them, e.g. --num_train_epochs 1, --warmup_steps 0.1, "
          "--top_k 50, --log_completions true): minir1 train --help-all\n")


def configure_logging() -> None:
    """Our messages at INFO on stderr; the libraries' deprecation chatter and weight-loading bars off."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
