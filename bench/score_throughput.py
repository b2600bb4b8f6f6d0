"""Scoring throughput: `minir1 score` end to end against TRL's math-verify `accuracy_reward`.

Builds N completions from the GSM8K test golds (half right, half wrong, a fifth
with a broken format), times the real console command on them (process start,
JSON in and out included; one core, as Python scores on one), then times TRL's
`accuracy_reward` on the same completions in the same run, and reports the ratio.
Also times `minir1 --help` start-up.

    python bench/score_throughput.py            # 100,000 completions
    python bench/score_throughput.py --n 2000   # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402

from minir1.data import load_problems  # noqa: E402
from minir1.prompts import format_completion, solution_steps  # noqa: E402


def make_lines(n: int, seed: int = 0) -> list[dict]:
    problems = load_problems("gsm8k:test")
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        p = problems[i % len(problems)]
        r = rng.random()
        answer = p.answer if r < 0.5 else str(p.gold + rng.randint(1, 9))
        completion = format_completion(solution_steps(p.solution), answer, "think")
        if r > 0.8:
            completion = completion.replace("</think>", "")
        lines.append({"completion": completion, "answer": p.solution})
    return lines


def time_command(args: list[str], stdin_path: str | None = None, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        with open(stdin_path or os.devnull, "rb") as f_in:
            t = time.perf_counter()
            subprocess.run(args, stdin=f_in, stdout=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    lines = make_lines(args.n)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("".join(json.dumps(x) + "\n" for x in lines))
        path = f.name
    cmd = [sys.executable, "-m", "minir1"]
    ours = time_command([*cmd, "score", path], repeats=args.repeats)
    help_s = time_command([*cmd, "--help"], repeats=5)
    os.unlink(path)

    from trl.rewards import accuracy_reward

    completions = [[{"role": "assistant", "content": x["completion"]}] for x in lines]
    golds = [x["answer"].rsplit("####", 1)[1].strip().replace(",", "") for x in lines]
    t = time.perf_counter()
    trl_scores = accuracy_reward(completions, golds)
    trl_s = time.perf_counter() - t

    figures = {
        "completions": args.n,
        "minir1_score_seconds": round(ours, 3),
        "minir1_completions_per_second": round(args.n / ours),
        "trl_accuracy_reward_seconds": round(trl_s, 3),
        "trl_completions_per_second": round(args.n / trl_s),
        "speedup_vs_trl": round(trl_s / ours, 1),
        "trl_scored_correct": int(sum(s or 0 for s in trl_scores)),
        "minir1_help_seconds": round(help_s, 3),
    }
    record(
        "score_throughput",
        figures,
        notes="minir1 timed end to end as a subprocess (median of repeats); TRL's accuracy_reward called "
        "in-process on the same completions. TRL's reward looks for LaTeX/boxed answers, so it scores "
        "these <answer>-tagged completions as wrong: the comparison is of speed only.",
    )


if __name__ == "__main__":
    main()
