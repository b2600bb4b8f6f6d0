"""GRPO step cost on a real 0.5B model on a CPU: minir1 before against candidates, same work, side by side.

Model: Qwen2.5-Coder-0.5B-Instruct (its Q4_K_M GGUF dequantized to bf16, built by
``bench/real_model.py``), not Qwen2.5-0.5B-Instruct. Every setup trains through
``minir1 train`` in its own process (so peak memory is its own) on the same work: the
same GSM8K train prompts in the same order (seed 0), the ``think`` prompt, the same
number of completions per step and the same length limit, LoRA rank 16 / alpha 32 on
every linear layer, the mini-r1 rewards. Only how the work is computed changes:

* ``before``: minir1 before this benchmark on a CPU: fp32 weights (it loaded the model in
  fp32 without CUDA), one micro-batch, the output layer's input as generation hands it.
* ``bf16-weights``: the frozen base weights in bf16 (``model_init_kwargs: {dtype:
  bfloat16}``), the LoRA adapters in fp32 (peft's default); nothing else changed.
* ``after``: minir1 now: bf16 base weights and a contiguous input to the output layer
  (``minir1.models.contiguous_head_input``).
* ``after-4x2``, ``after+checkpointing``, ``after-4x2+checkpointing``: the same in
  micro-batches of half the step, and with activation checkpointing: peak memory per
  micro-batch size, with and without checkpointing.
* ``after-4x2+compile``: a candidate, TRL's own ``torch_compile`` setting (transformers compiles the
  model the loss runs through; TRL samples with compilation turned off): the first compilation falls in
  the warm-up step, which is not timed; any later one (new shapes) falls in a timed step.
* ``after-4x2+plain-sampling``: a candidate, prototyped here only (:func:`plain_sampling`):
  the group is sampled from a plain copy of the policy's weights (base + adapter, rebuilt
  before each generation) instead of through peft's LoRA layers (``bench/lora_sampling.py``
  measures what those cost when sampling).

Where the time goes: TRL times its phases with ``trl.extras.profiling`` (generation,
reward scoring, the loss's forward pass); a child process started by this script
(``--child``) records those timings, and the rest of a step (backward pass, optimizer,
logging) is the step's wall time less them. Seconds per step are counted over whole
steps after a warm-up step (``common.whole_cycles``); generated tokens are TRL's logged
completion lengths, so a setup whose completions run longer shows it in its tokens/s.
Setups run in alternating order over rounds (A B ... B A), and a setup's speed-up is
the median over rounds of ``before``'s seconds per step over its own, within a round.

    python bench/real_grpo_speed.py                          # the mini-r1-cpu recipe's work: 1 prompt x 8, 160 tokens
    python bench/real_grpo_speed.py --setups before,after --prompts 2 --max_completion_length 256 --name 2x8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import generations_from_metrics, load_average, median, record, schedule, whole_cycles  # noqa: E402

PHASES_LOG = "MINIR1_BENCH_PHASES"
NO_HEAD_HOOK = "MINIR1_BENCH_NO_HEAD_HOOK"  # the child leaves the output layer's input as generation hands it
PLAIN_SAMPLING = "MINIR1_BENCH_PLAIN_SAMPLING"  # the child samples from a plain copy of the weights (plain_sampling)
FP32, BF16 = {"model_init_kwargs": {"dtype": "float32"}}, {"model_init_kwargs": {"dtype": "bfloat16"}}
HALF = {"_micro_batches": 2}
CHECKPOINTING = {"activation_checkpointing": True}
SETUPS = {
    "before": {**FP32, "_head_hook": False},
    "bf16-weights": {**BF16, "_head_hook": False},
    "after": BF16,
    "after-4x2": {**BF16, **HALF},
    "after+checkpointing": {**BF16, **CHECKPOINTING},
    "after-4x2+checkpointing": {**BF16, **HALF, **CHECKPOINTING},
    "after-4x2+plain-sampling": {**BF16, **HALF, "_plain_sampling": True},
    "after-4x2+compile": {**BF16, **HALF, "torch_compile": True},
}
# TRL's phase names (profiling_context / profiling_decorator) and what they are.
PHASES = {"transformers.generate": "generation", "transformers.generate_batch": "generation",
          "_calculate_rewards": "reward scoring", "compute_loss": "loss forward pass"}


def base_settings(model: str, prompts: int, generations: int, length: int, steps: int) -> dict:
    return {"model": model, "data": "gsm8k:train", "scheme": "mini-r1", "tag_style": "think", "max_steps": steps,
            "num_generations": generations, "max_completion_length": length, "lora": True, "lora_r": 16,
            "lora_alpha": 32, "lora_target_modules": ["all-linear"], "learning_rate": 1e-5, "save_steps": 10**6,
            "sample_every": 0, "plot": False, "logging_steps": 1, "seed": 0, "eval_every": 0,
            "steps_per_generation": None, "_prompts_per_step": prompts}


def run_setup(settings: dict, folder: Path) -> dict:
    """One ``minir1 train`` in a child process that records TRL's phase timings; its cost per step."""
    import subprocess

    import yaml

    from minir1.jsonl import read_jsonl

    folder.mkdir(parents=True)
    run, phases = folder / "run", folder / "phases.jsonl"
    env = {**os.environ, PHASES_LOG: str(phases)}
    if settings.get("_head_hook") is False:
        env[NO_HEAD_HOOK] = "1"
    if settings.get("_plain_sampling"):
        env[PLAIN_SAMPLING] = "1"
    settings = {k: v for k, v in settings.items() if not k.startswith("_") and v is not None}
    recipe = folder / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({**settings, "output_dir": str(run)}, sort_keys=False))
    load = load_average()[0]
    done = subprocess.run([sys.executable, __file__, "--child", "train", "--config", str(recipe)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        lines = [x for x in done.stderr.strip().splitlines() if x.strip()]
        raise RuntimeError(lines[-1] if lines else f"exit status {done.returncode}")
    records = read_jsonl(run / "metrics.jsonl")
    step_seconds = {r["step"]: r["step_seconds"] for r in records if "step_seconds" in r}
    batch = settings["per_device_train_batch_size"] * settings["gradient_accumulation_steps"]
    cost = whole_cycles(step_seconds, generations_from_metrics(records, batch), 1)
    timed = set(range(2, max(step_seconds) + 1))  # TRL's step numbers: a phase in step k logs global_step k-1
    per_step: dict[str, float] = {}
    for line in read_jsonl(phases):
        if line["step"] + 1 in timed and line["name"] in PHASES:
            per_step[PHASES[line["name"]]] = per_step.get(PHASES[line["name"]], 0.0) + line["seconds"]
    per_step = {k: v / len(timed) for k, v in per_step.items()}
    per_step["backward, optimizer and the rest"] = cost["seconds_per_step"] - sum(per_step.values())
    summary = json.loads((run / "summary.json").read_text())
    grpo = json.loads((run / "grpo_config.json").read_text())
    received = {k: grpo[k] for k in ("model_init_kwargs", "per_device_train_batch_size",
                                     "gradient_accumulation_steps", "use_transformers_paged",
                                     "activation_checkpointing", "bf16", "max_completion_length", "num_generations",
                                     "torch_compile")}
    for k in ("model_init_kwargs", "per_device_train_batch_size", "gradient_accumulation_steps",
              "activation_checkpointing", "torch_compile"):
        if k in settings and received[k] != settings[k]:
            raise RuntimeError(f"the trainer did not get {k}: asked {settings[k]!r}, got {received[k]!r}")
    return {**cost, "seconds_per_step_by_phase": {k: round(v, 1) for k, v in per_step.items()},
            "load_average_before": load, "peak_cpu_memory_gb": summary.get("peak_cpu_memory_gb"),
            "received": received}


def plain_sampling(model, hook) -> None:
    """Make ``model`` (TRL's peft policy) sample from a plain copy of its weights: before each ``generate``, every
    LoRA layer's base weight plus its adapter's delta is written into the copy's matching linear layer (one
    rounding to the weights' dtype; the frozen base itself is never touched), and the copy generates."""
    import copy

    import torch
    from peft.tuners.lora import LoraLayer

    base = model.get_base_model()
    plain = copy.deepcopy(base).eval()
    layers = {name: m for name, m in base.named_modules() if isinstance(m, LoraLayer)}
    for name in layers:  # the copy's LoRA layers become their plain base layers
        parent, _, attr = name.rpartition(".")
        setattr(plain.get_submodule(parent), attr, plain.get_submodule(name).base_layer)
    targets = {name: plain.get_submodule(name).weight for name in layers}
    hook(plain)

    def generate(*args, **kwargs):
        with torch.no_grad():
            for name, layer in layers.items():
                delta = layer.get_delta_weight(layer.active_adapters[0])
                targets[name].copy_(layer.base_layer.weight + delta)
        return plain.generate(*args, **kwargs)

    model.generate = generate


def child(argv: list[str]) -> int:
    """``minir1 train`` with TRL's phase timings appended to ``$MINIR1_BENCH_PHASES``."""
    from trl.extras import profiling

    path = os.environ[PHASES_LOG]
    original = profiling.ProfilingContext._log_metrics

    def log_metrics(self, duration: float) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"name": self.name.split(".", 1)[1] if self.name.startswith("GRPOTrainer.")
                                else self.name, "step": self.step, "seconds": duration}) + "\n")
        original(self, duration)

    profiling.ProfilingContext._log_metrics = log_metrics
    from minir1 import models

    if os.environ.get(NO_HEAD_HOOK):
        models.contiguous_head_input = lambda model: None
    if os.environ.get(PLAIN_SAMPLING):  # train() hands the trainer's model to contiguous_head_input
        hook = models.contiguous_head_input
        models.contiguous_head_input = lambda model: (plain_sampling(model, hook), hook(model))
    from minir1.cli import main

    return main(argv)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2:]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setups", default=",".join(SETUPS),
                    help="comma-separated, of: " + ", ".join(SETUPS))
    ap.add_argument("--prompts", type=int, default=1, help="prompts per step (default: the mini-r1-cpu recipe's)")
    ap.add_argument("--num_generations", type=int, default=8)
    ap.add_argument("--max_completion_length", type=int, default=160)
    ap.add_argument("--steps", type=int, default=1, help="timed steps per run, after one warm-up step")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--model", help="default: the real model bench/real_model.py builds")
    ap.add_argument("--name", help="results go to bench/results/real-grpo-speed-NAME.json")
    args = ap.parse_args()
    names = args.setups.split(",")
    unknown = [n for n in names if n not in SETUPS]
    if unknown:
        raise SystemExit(f"unknown setups {unknown}: choose from {', '.join(SETUPS)}")
    if args.model is None:
        from real_model import real_model_dir

        args.model = str(real_model_dir())
    completions = args.prompts * args.num_generations
    runs: dict[str, list[dict]] = {n: [] for n in names}
    order = schedule(names, args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (rnd, name) in enumerate(order):
            setup = dict(SETUPS[name])
            micro = setup.get("_micro_batches", 1)
            setup.update(per_device_train_batch_size=completions // micro, gradient_accumulation_steps=micro)
            settings = {**base_settings(args.model, args.prompts, args.num_generations, args.max_completion_length,
                                        args.steps + 1), **setup}
            try:
                result = {"round": rnd, **run_setup(settings, Path(tmp) / f"{i}-{name}")}
            except (RuntimeError, ValueError) as e:
                result = {"round": rnd, "error": str(e)}
            runs[name].append(result)
            print(f"round {rnd + 1} {name}: " + (result.get("error") or
                  f"{result['seconds_per_step']:.1f} s/step, {result['generated_tokens_per_second']:.1f} tokens/s, "
                  f"{result['seconds_per_step_by_phase']}, peak {result['peak_cpu_memory_gb']} GB"),
                  file=sys.stderr, flush=True)
    figures = {"model": "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF dequantized to bf16), not Qwen2.5-0.5B-Instruct",
               "work_per_step": f"{args.prompts} GSM8K train prompts x {args.num_generations} completions, at most "
                                f"{args.max_completion_length} new tokens, think prompt, LoRA r16/alpha 32 all-linear",
               "timed_steps_per_run": args.steps, "rounds": args.rounds, "order": [n for _, n in order],
               "setups": {}}
    for name in names:
        ok = [r for r in runs[name] if "error" not in r]
        entry = {"settings": {k.lstrip("_"): v for k, v in SETUPS[name].items()}, "runs": runs[name]}
        if ok:
            for key in ("seconds_per_step", "generated_tokens_per_second", "mean_completion_length"):
                entry[key] = median(r[key] for r in ok)
            entry["peak_cpu_memory_gb"] = max(r["peak_cpu_memory_gb"] or 0 for r in ok)
            entry["seconds_per_step_by_phase"] = ok[0]["seconds_per_step_by_phase"]
        figures["setups"][name] = entry
    if "before" in names:
        speedups = {}
        for name in names:
            ratios = [b["seconds_per_step"] / r["seconds_per_step"] for b, r in zip(runs["before"], runs[name],
                                                                                   strict=True)
                      if "error" not in b and "error" not in r]
            if ratios:
                speedups[name] = round(median(ratios), 2)
        figures["speedup_vs_before"] = speedups
    record("real-grpo-speed" + (f"-{args.name}" if args.name else ""), figures,
           notes="Qwen2.5-Coder-0.5B-Instruct on a CPU. Seconds per step over whole steps after a warm-up step; "
                 "phases from TRL's own profiling timers; each setup in its own process, same prompts and seed.")


if __name__ == "__main__":
    main()
