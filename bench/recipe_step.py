"""Seconds per GRPO step and peak memory of a bundled recipe, run as a user runs it (`minir1 train`).

    python bench/recipe_step.py                         # the tiny recipe on a CPU, 20 steps
    python bench/recipe_step.py --recipe mini-r1 --gpu  # mini-r1 on Qwen2.5-0.5B's architecture (random weights)
    python bench/recipe_step.py --quick                 # 3 steps: what the test suite runs
    python bench/recipe_step.py --recipe mini-r1 --gpu --name mb8-ckpt \
        --per_device_train_batch_size 8 --gradient_accumulation_steps 8 --activation_checkpointing true

Any other option is passed to ``minir1 train`` unchanged (it overrides the recipe), and
``--name`` keeps each such variant in its own results file.

With ``--gpu`` the recipe's model is replaced by a model of Qwen2.5-0.5B-Instruct's
exact architecture with random weights (it costs what the real one costs to run).
Step cost is counted as in ``grpo_step.py`` (``common.whole_cycles``): the wall time
of whole generation cycles after a warm-up one over their optimizer steps, and the
tokens those cycles generated, from the lengths TRL logs for each generation batch
and the generation batch size the trainer ran with.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import generations_from_metrics, load_average, record, trainer_args, whole_cycles  # noqa: E402
from grpo_step import build_model  # noqa: E402


def recipe_model(recipe: str) -> str:
    """The model a recipe (a bundled name or a YAML path) trains."""
    import yaml

    import minir1

    path = Path(recipe) if recipe.endswith((".yaml", ".yml")) else Path(minir1.__file__).parent / "recipes" / \
        f"{recipe}.yaml"
    return str(yaml.safe_load(path.read_text()).get("model"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="tiny")
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="3 steps")
    ap.add_argument("--model", help="with --gpu: a model folder built before (grpo_step.build_model) instead of "
                                    "building one")
    ap.add_argument("--name", help="results go to bench/results/recipe_step-<recipe>-<mode>-NAME.json")
    args, train_args = ap.parse_known_args()
    from minir1.jsonl import read_jsonl

    steps = 3 if args.quick else args.steps
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "minir1", "train", "--config", args.recipe, "--output_dir", str(run),
               "--max_steps", str(steps), "--save_steps", "1000000", "--plot", "false", "--eval_every", "0",
               "--logging_steps", "1"]
        if args.gpu:
            model = args.model or str(build_model(Path(tmp) / "model", gpu=True, quick=False))
            cmd += ["--model", model, "--use_vllm", "false"]
        cmd += train_args
        load = load_average()[0]
        done = subprocess.run(cmd, env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            raise SystemExit(f"minir1 train failed: {done.stderr.strip().splitlines()[-1:]}")
        records = [r for r in read_jsonl(run / "metrics.jsonl") if "step_seconds" in r]
        summary = json.loads((run / "summary.json").read_text())
        trl = trainer_args(run)
    cycle = trl.steps_per_generation * trl.num_iterations // trl.gradient_accumulation_steps
    cost = whole_cycles({r["step"]: r["step_seconds"] for r in records},
                        generations_from_metrics(records, trl.generation_batch_size), cycle)
    figures = {"recipe": args.recipe, "steps": steps, "timed_steps": cost["timed_steps"],
               "seconds_per_step": round(cost["seconds_per_step"], 3),
               "generated_tokens_per_second": round(cost["generated_tokens_per_second"]),
               "completions_per_step": cost["completions_per_step"],
               "per_device_train_batch_size": trl.per_device_train_batch_size,
               "gradient_accumulation_steps": trl.gradient_accumulation_steps,
               "max_completion_length": trl.max_completion_length, "train_args": train_args,
               "activation_checkpointing": trl.activation_checkpointing, "load_average_before": load,
               "peak_cpu_memory_gb": summary["peak_cpu_memory_gb"], "peak_gpu_memory_gb": summary["peak_gpu_memory_gb"],
               "model": "Qwen2.5-0.5B architecture, random weights" if args.gpu else recipe_model(args.recipe)}
    record(f"recipe_step-{args.recipe}-{'gpu' if args.gpu else 'cpu'}" + ("-quick" if args.quick else "")
           + (f"-{args.name}" if args.name else ""), figures,
           notes="seconds per optimizer step over whole generation cycles after a warm-up one; peak memory of the "
                 "training process")


if __name__ == "__main__":
    main()
