"""One process against two on the same work: multi-process GRPO through torchrun on a CPU (gloo).

Both runs train the same steps on the same global batch (64 completions = 8
prompts x 8 generations per step): one process with micro-batches of 64 and two
threads, or two processes with 32 each and one thread apiece, so both use the two
cores of a small machine. On GPUs the same launch puts one process on each GPU
(``accelerate launch --config_file launch/multi_gpu.yaml``); this measures the
wiring's overhead and scaling where CI can run it.

    python bench/processes.py            # the demo-sized tiny model, 64 new tokens, 6 steps
    python bench/processes.py --quick    # seconds: what the test suite runs
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402
from grpo_step import build_model  # noqa: E402


def run(nproc: int, model: Path, out: Path, steps: int, length: int) -> dict:
    from minir1.jsonl import read_jsonl

    threads = max(1, (os.cpu_count() or 2) // nproc)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           "-m", "minir1", "train", "--config", "tiny", "--model", str(model), "--output_dir", str(out),
           "--max_steps", str(steps), "--per_device_train_batch_size", str(64 // nproc), "--num_generations", "8",
           "--max_completion_length", str(length), "--lora_r", "16", "--lora_alpha", "32",
           "--rewards", "[format_rubric, correctness, 'grpo_step:length_spread']", "--reward_weights", "[13,10,1]",
           "--save_steps", "1000000", "--sample_every", "0", "--plot", "false"]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = [r for r in read_jsonl(out / "metrics.jsonl") if "step_seconds" in r][1:]  # first: warm-up
    return {"processes": nproc, "threads_per_process": threads,
            "seconds_per_step": statistics.median(r["step_seconds"] for r in records),
            "tokens_per_step": records[0]["num_tokens"] / records[0]["step"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    steps, length = (3, 16) if args.quick else (6, 64)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", gpu=False, quick=args.quick)
        one = run(1, model, Path(tmp) / "one", steps, length)
        two = run(2, model, Path(tmp) / "two", steps, length)
    figures = {"work_per_step": f"8 prompts x 8 generations x {length} new tokens", "one_process": one,
               "two_processes": two, "two_over_one_time": round(two["seconds_per_step"] / one["seconds_per_step"], 2)}
    record("processes-quick" if args.quick else "processes-cpu", figures,
           notes="torchrun --standalone, gloo on the CPU; median seconds per step after one warm-up step.")


if __name__ == "__main__":
    main()
