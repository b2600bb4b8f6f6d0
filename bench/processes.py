"""One process against two on the same work: multi-process GRPO through torchrun on a CPU (gloo).

Both train minir1's setup of ``bench/grpo_step.py`` on the same global batch (64
completions = 8 prompts x 8 generations per step, one generation batch per step; with
``--quick`` 2 prompts x 4),
launched the same way (``torchrun --standalone``): one process with micro-batches
of 64 and two threads, or two processes with 32 each and one thread apiece, so both
use the two cores of a small machine. The two alternate (1, 2, 2, 1, ... over
``--rounds``), so the one-process baseline is always measured next to a two-process
run, on exactly the same work; the ratio is the median of the ratios within a
round. Step cost is counted as in ``grpo_step.py``: whole generation cycles after a
warm-up one, tokens as generated. On GPUs the same launch puts one process on each
GPU (``accelerate launch --config_file launch/multi_gpu.yaml``); this measures the
wiring's overhead and scaling where CI can run it.

    python bench/processes.py            # the demo-sized tiny model, 64 new tokens, 2 rounds
    python bench/processes.py --quick    # the default tiny model, 2 prompts x 4, 16 new tokens, 1 round: the tests
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import median, record, schedule, train_run  # noqa: E402
from grpo_step import (  # noqa: E402
    GENERATIONS,
    MINIR1,
    PROMPTS_PER_STEP,
    QUICK_GENERATIONS,
    QUICK_PROMPTS,
    base_settings,
    build_model,
)


def run(nproc: int, model: Path, folder: Path, timed: int, length: int, prompts: int, generations: int) -> dict:
    threads = max(1, (os.cpu_count() or 2) // nproc)
    settings = {**base_settings(str(model), length, timed, 1, generations), **MINIR1,
                "per_device_train_batch_size": prompts * generations // nproc, "gradient_accumulation_steps": 1}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
    try:
        result = train_run(settings, folder, launcher, env={"OMP_NUM_THREADS": str(threads)})
    except (RuntimeError, ValueError) as e:
        raise SystemExit(f"{nproc} process(es) failed: {e}") from None
    return {"processes": nproc, "threads_per_process": threads, **result}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, help="pairs of runs, alternating order (default 2; --quick 1)")
    args = ap.parse_args()
    args.rounds = (1 if args.quick else 2) if args.rounds is None else args.rounds
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    timed, length = (2, 16) if args.quick else (6, 64)
    prompts, generations = (QUICK_PROMPTS, QUICK_GENERATIONS) if args.quick else (PROMPTS_PER_STEP, GENERATIONS)
    runs: dict[int, list[dict]] = {1: [], 2: []}
    order = schedule([1, 2], args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "model", gpu=False, quick=args.quick)
        for i, (rnd, nproc) in enumerate(order):
            result = {"round": rnd, **run(nproc, model, Path(tmp) / f"{i}-{nproc}", timed, length, prompts,
                                          generations)}
            runs[nproc].append(result)
            print(f"round {rnd + 1}, {nproc} process(es): {result['seconds_per_step']:.2f} s/step, load "
                  f"{result['load_average_before']}", file=sys.stderr, flush=True)
    ratios = [round(two["seconds_per_step"] / one["seconds_per_step"], 2)
              for one, two in zip(runs[1], runs[2], strict=True)]
    summary = {n: {"processes": n, "threads_per_process": rs[0]["threads_per_process"],
                   "seconds_per_step": median(r["seconds_per_step"] for r in rs),
                   "generated_tokens_per_second": median(r["generated_tokens_per_second"] for r in rs),
                   "completions_per_step": median(r["completions_per_step"] for r in rs), "runs": rs}
               for n, rs in runs.items()}
    figures = {"work_per_step": f"{prompts} prompts x {generations} generations x up to {length} new tokens",
               "completions_per_generation_batch": prompts * generations,
               "rounds": args.rounds, "order": [n for _, n in order], "one_process": summary[1],
               "two_processes": summary[2], "two_over_one_time_per_round": ratios,
               "two_over_one_time": round(median(ratios), 2)}
    record("processes-quick" if args.quick else "processes-cpu", figures,
           notes="torchrun --standalone for both, gloo on the CPU; one and two processes alternate; seconds per "
                 "step over whole generation cycles after a warm-up one; medians over rounds, ratio within a round.")


if __name__ == "__main__":
    main()
