"""GRPO step throughput: the seeds' setup against minir1's defaults, on the same work, side by side.

Every setup trains through ``minir1.train`` (TRL's GRPOTrainer) in its own
process, so peak memory is its own, on the same prompts (GSM8K train), the same
number of completions per optimizer step (8 prompts x 8 generations) and the same
lengths (a model with random weights never ends a completion early, so every
completion runs to ``max_completion_length``). Step time is wall-clock time per
optimizer step (generation, rewards, forward and backward, optimizer), from
``metrics.jsonl``, with the first step left out as warm-up.

Setups (LoRA rank 16, alpha 32 in all):
* ``seeds``: as the Mini-R1 seed's recipe runs TRL: one completion per micro-batch
  with gradient accumulation up to the step's 64, gradient checkpointing on, and
  LoRA dropout 0.05 (the value LoRA examples use; PEFT's own default is 0).
* ``minir1``: minir1's defaults: micro-batches of 16 (x 4), no activation
  checkpointing, no LoRA dropout.
* ablations, one change each: ``seeds-no-dropout``, ``minir1+checkpointing``,
  ``minir1-one-pass`` (64 x 1), ``minir1+gen2`` (one generation batch for two
  optimizer steps: ``steps_per_generation=8``), ``minir1+mu2`` (``num_iterations=2``:
  two updates per generation batch; its seconds per step count half the generation,
  so it is not the same work and is shown for the trade-off only).

    python bench/grpo_step.py            # CPU: the demo-sized tiny model, 64 new tokens
    python bench/grpo_step.py --quick    # a few seconds: what the test suite runs
    python bench/grpo_step.py --gpu      # Qwen2.5-0.5B-Instruct's architecture, random weights, 512 new tokens
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402

PROMPTS_PER_STEP, GENERATIONS = 8, 8
COMPLETIONS = PROMPTS_PER_STEP * GENERATIONS
SEEDS = {"per_device_train_batch_size": 1, "gradient_accumulation_steps": 64, "activation_checkpointing": True,
         "lora_dropout": 0.05}
MINIR1 = {"per_device_train_batch_size": 16, "gradient_accumulation_steps": 4, "lora_dropout": 0.0}
SETUPS = {
    "seeds": SEEDS,
    "minir1": MINIR1,
    "seeds-no-dropout": {**SEEDS, "lora_dropout": 0.0},
    "minir1+checkpointing": {**MINIR1, "activation_checkpointing": True},
    "minir1-one-pass": {**MINIR1, "per_device_train_batch_size": 64, "gradient_accumulation_steps": 1},
    "minir1+gen2": {**MINIR1, "steps_per_generation": 8},
    "minir1+mu2": {**MINIR1, "num_iterations": 2},
}
QUICK = ("seeds", "minir1")
# Qwen2.5-0.5B-Instruct's architecture (its config.json).
QWEN_05B = {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
            "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768, "rope_theta": 1e6}
DEMO_SIZE = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
             "num_key_value_heads": 2}


def length_spread(completions, completion_ids=None, **kwargs):
    """A reward with spread for random weights (every task reward is zero): varies with the token ids."""
    return [(sum(ids) % 97) / 97 for ids in completion_ids]


def build_model(folder: Path, gpu: bool, quick: bool) -> Path:
    """A model folder: the tiny tokenizer, and either a small model or Qwen2.5-0.5B's architecture."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from minir1.tiny import build_tiny_model

    if quick:
        return build_tiny_model(folder)
    path = build_tiny_model(folder, **DEMO_SIZE)
    if gpu:  # same tokenizer, the real architecture; ids it cannot decode come out as empty text
        config = Qwen2Config.from_pretrained(path)
        for k, v in QWEN_05B.items():
            setattr(config, k, v)
        torch.manual_seed(0)
        Qwen2ForCausalLM(config).to(torch.bfloat16).save_pretrained(path)
    return path


def run_one(setup: str, model: str, steps: int, length: int, out: Path) -> dict:
    """Train one setup in this process; return its step times, throughput and peak memory."""
    from minir1.config import load_config
    from minir1.jsonl import read_jsonl
    from minir1.train import train

    settings = {
        "model": model, "output_dir": str(out), "overwrite": True, "max_steps": steps, "num_generations": GENERATIONS,
        "max_completion_length": length, "lora": True, "lora_r": 16, "lora_alpha": 32, "learning_rate": 1e-5,
        "lora_target_modules": "all-linear",
        "rewards": ["format_rubric", "correctness", "grpo_step:length_spread"], "reward_weights": [13, 10, 1],
        "save_steps": 10**6, "sample_every": 0, "plot": False, "logging_steps": 1, "seed": 0,
        **SETUPS[setup],
    }
    result = train(load_config(None, settings))
    records = [r for r in read_jsonl(out / "metrics.jsonl") if "step_seconds" in r][1:]  # first step: warm-up
    step = statistics.median(r["step_seconds"] for r in records)
    # with steps_per_generation above the accumulation, only generating steps log completion lengths
    tokens = statistics.median(r["completions/mean_length"] for r in records
                               if "completions/mean_length" in r) * COMPLETIONS
    return {"setup": setup, "settings": SETUPS[setup], "timed_steps": len(records), "seconds_per_step": step,
            "generated_tokens_per_second": tokens / step, "completions_per_second": COMPLETIONS / step,
            "mean_completion_length": tokens / COMPLETIONS,
            "peak_cpu_memory_gb": result.summary.get("peak_cpu_memory_gb"),
            "peak_gpu_memory_gb": result.summary.get("peak_gpu_memory_gb")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="Qwen2.5-0.5B architecture on a CUDA GPU")
    ap.add_argument("--quick", action="store_true", help="the default tiny model, 3 steps, 16 tokens")
    ap.add_argument("--steps", type=int, help="optimizer steps per setup (the first is warm-up)")
    ap.add_argument("--setups", help="comma-separated, of: " + ", ".join(SETUPS) + " (default: all; --quick: "
                                      + ", ".join(QUICK) + ")")
    ap.add_argument("--run", help=argparse.SUPPRESS)  # internal: train one setup in this process
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    args = ap.parse_args()
    length = 16 if args.quick else (512 if args.gpu else 64)
    steps = args.steps or (3 if args.quick else (20 if args.gpu else 8))

    if args.run:
        figures = run_one(args.run, args.model, steps, length, Path(args.json).with_suffix(""))
        Path(args.json).write_text(json.dumps(figures))
        return

    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--gpu needs a CUDA GPU")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", args.gpu, args.quick)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH",
                                                                                                        "")])}
        for setup in args.setups.split(",") if args.setups else (QUICK if args.quick else SETUPS):
            out = Path(tmp) / f"{setup}.json"
            cmd = [sys.executable, __file__, "--run", setup, "--model", str(model), "--json", str(out),
                   "--steps", str(steps)] + (["--gpu"] if args.gpu else []) + (["--quick"] if args.quick else [])
            done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if done.returncode:  # keep the other setups' figures; say which one failed and why
                results[setup] = {"setup": setup, "error": done.stderr.strip().splitlines()[-1]}
                print(f"{setup} failed: {results[setup]['error']}", file=sys.stderr)
                continue
            results[setup] = json.loads(out.read_text())
    base = results.get("seeds") if "seconds_per_step" in results.get("seeds", {}) else None
    figures = {"work_per_step": f"{PROMPTS_PER_STEP} prompts x {GENERATIONS} generations x {length} new tokens",
               "setups": results}
    if base:
        figures["speedup_vs_seeds"] = {k: round(base["seconds_per_step"] / v["seconds_per_step"], 2)
                                       for k, v in results.items() if "seconds_per_step" in v}
    mode = "quick" if args.quick else ("gpu" if args.gpu else "cpu")
    record(f"grpo_step-{mode}", figures,
           notes="Median wall-clock seconds per optimizer step after one warm-up step; each setup in its own "
                 "process. Random weights: every completion runs to max_completion_length, so the work is equal.")


if __name__ == "__main__":
    main()
