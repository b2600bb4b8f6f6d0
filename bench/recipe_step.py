"""Seconds per GRPO step and peak memory of a bundled recipe, run as a user runs it (`minir1 train`).

    python bench/recipe_step.py                         # the tiny recipe on a CPU, 20 steps
    python bench/recipe_step.py --recipe mini-r1 --gpu  # mini-r1 on Qwen2.5-0.5B's architecture (random weights)
    python bench/recipe_step.py --quick                 # seconds: what the test suite runs

With ``--gpu`` the recipe's model is replaced by a model of Qwen2.5-0.5B-Instruct's
exact architecture with random weights (it costs what the real one costs to run;
every completion runs to ``max_completion_length``). Step time is the median
wall-clock time per optimizer step after the first; generated tokens per second
are completion tokens consumed per step over that time.
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
from grpo_step import build_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="tiny")
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="3 steps")
    args = ap.parse_args()
    from minir1.jsonl import read_jsonl

    steps = 3 if args.quick else args.steps
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "minir1", "train", "--config", args.recipe, "--output_dir", str(run),
               "--max_steps", str(steps), "--save_steps", "1000000", "--plot", "false", "--eval_every", "0"]
        if args.gpu:
            cmd += ["--model", str(build_model(Path(tmp) / "model", gpu=True, quick=False)), "--use_vllm", "false"]
        subprocess.run(cmd, check=True, env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        records = [r for r in read_jsonl(run / "metrics.jsonl") if "step_seconds" in r][1:]
        summary = json.loads((run / "summary.json").read_text())
        config = (run / "config.yaml").read_text()
    step = statistics.median(r["step_seconds"] for r in records)
    tokens = statistics.median(r["gen_tokens_per_second"] for r in records if "gen_tokens_per_second" in r)
    figures = {"recipe": args.recipe, "steps": steps, "seconds_per_step": round(step, 3),
               "generated_tokens_per_second": round(tokens), "peak_cpu_memory_gb": summary["peak_cpu_memory_gb"],
               "peak_gpu_memory_gb": summary["peak_gpu_memory_gb"],
               "model": "Qwen2.5-0.5B architecture, random weights" if args.gpu else config.split("model: ")[1]
               .splitlines()[0]}
    record(f"recipe_step-{args.recipe}-{'gpu' if args.gpu else 'cpu'}" + ("-quick" if args.quick else ""), figures,
           notes="median seconds per optimizer step after the first; peak memory of the training process")


if __name__ == "__main__":
    main()
