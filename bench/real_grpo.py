"""A real model learns on a CPU: GRPO with the ``mini-r1-cpu`` recipe, held-out evaluation before and after.

Model: Qwen2.5-Coder-0.5B-Instruct (its Q4_K_M GGUF dequantized to bf16, built by
``bench/real_model.py``), not Qwen2.5-0.5B-Instruct. Each stage is one ``minir1``
command, run as a user runs it, into its own folder under ``--output_dir``; each is
resumable, so running this script again after an interruption continues where it
stopped and redoes nothing finished:

1. ``minir1 eval`` of the base model on the first ``--limit`` GSM8K test problems with the
   bare ``think`` prompt (the cold start), greedy, at most ``--max_new_tokens`` new tokens;
2. ``minir1 train --config mini-r1-cpu`` from that base model (``--resume`` when the run
   folder exists: it continues from its last checkpoint, and a finished run does nothing);
3. ``minir1 eval --adapter RUN`` with the same prompt and settings, into ``eval-after-stepN``;
4. the figures: format, strict and lenient accuracy before and after with 95% Wilson
   intervals, McNemar's exact test on the strict and on the lenient verdicts, the step at
   which the format reward first reached 90% of its maximum (smoothed over 5 steps), and
   one emergence example (a problem wrong before and right after, both completions), to
   ``bench/results/real-grpo.json``; the reward plot (format and correctness separately,
   held-out accuracy at the start and the end) to ``docs/real-grpo-rewards.png``.

    python bench/real_grpo.py --output_dir /work/runs/real-grpo          # the full run (hours on 2 cores)
    python bench/real_grpo.py --output_dir /tmp/rg --limit 8 --max_steps 2 --name real-grpo-smoke
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import HERE, record  # noqa: E402

RECIPE = "mini-r1-cpu"
WALL_SECONDS = "wall_seconds.jsonl"  # in --output_dir: each launch's wall seconds by stage, one line a launch
SMOOTH = 5  # steps the format reward is averaged over when finding where it reached 90% of its maximum


def run(cmd: list[str]) -> float:
    """Run one minir1 command, its output passed through; its wall time."""
    print("$ " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return round(time.perf_counter() - t, 1)


def rates(summary: dict) -> dict:
    from minir1.stats import wilson

    n = summary["n"]
    out = {"n": n}
    for key, field in (("format", "format_rate"), ("strict", "accuracy"), ("lenient", "lenient_accuracy")):
        count = round(summary[field] * n)
        low, high = wilson(count, n)
        out[key] = {"rate": count / n, "count": count, "ci_low": round(low, 4), "ci_high": round(high, 4)}
    out["mean_length"] = summary.get("mean_length")
    out["truncation_rate"] = summary.get("truncation_rate")
    return out


def format_step(records: list[dict], points: float) -> int | None:
    """The first step at which the format reward, averaged over the last SMOOTH steps, reached 90% of its maximum."""
    values = [(r["step"], r["rewards/format_rubric/mean"]) for r in records  # None: no completion scored
              if r.get("rewards/format_rubric/mean") is not None]
    for i in range(len(values)):
        window = [v for _, v in values[max(0, i - SMOOTH + 1):i + 1]]
        if sum(window) / len(window) * points >= 0.9 * points:
            return values[i][0]
    return None


def emergence(before: Path, after: Path) -> dict | None:
    """The first held-out problem (in order) wrong before and right after (strict), with both completions."""
    from minir1.evaluate import SAMPLES, read_samples

    a = {r["id"]: r for r in read_samples(before / SAMPLES)}
    for r in read_samples(after / SAMPLES):
        b = a.get(r["id"])
        if b is not None and r["correct"] and not b["correct"]:
            return {"id": r["id"], "question": r["question"], "gold": r["gold"],
                    "before": {"completion": b["completion"], "answer": b.get("extracted"),
                               "format_ok": b["format_ok"]},
                    "after": {"completion": r["completion"], "answer": r.get("extracted"),
                              "format_ok": r["format_ok"]}}
    return None


def plot(run_dir: Path, before: dict, after: dict, steps: int, path: Path) -> None:
    """The run's reward plot with the held-out evaluations at step 0 and at the last step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minir1 import runs
    from minir1.jsonl import read_jsonl
    from minir1.plots import plot_rewards

    records = read_jsonl(run_dir / "metrics.jsonl")
    for step, s in ((0, before), (steps, after)):
        records.append({"step": step, "eval/accuracy": s["strict"]["rate"],
                        "eval/lenient_accuracy": s["lenient"]["rate"]})
    fig = plot_rewards(records, runs.reward_points(run_dir),
                       title=f"GRPO on a CPU, {RECIPE}: Qwen2.5-Coder-0.5B-Instruct (4-bit GGUF, dequantized)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output_dir", required=True, help="eval-before/, run/ and eval-after-stepN/ go here")
    ap.add_argument("--model", help="default: the real model bench/real_model.py builds")
    ap.add_argument("--limit", type=int, default=200, help="held-out GSM8K test problems")
    ap.add_argument("--max_new_tokens", type=int, default=256, help="for both evaluations (at least the "
                                                                     "recipe's max_completion_length, so that replies "
                                                                     "are judged at the length trained)")
    ap.add_argument("--max_steps", type=int, help="default: the recipe's")
    ap.add_argument("--name", default="real-grpo", help="results file name under bench/results/")
    ap.add_argument("--plot", default=str(HERE.parent / "docs" / "real-grpo-rewards.png"))
    args, train_extra = ap.parse_known_args()
    if args.model is None:
        from real_model import real_model_dir

        args.model = str(real_model_dir())
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    from minir1 import runs

    minir1 = [sys.executable, "-m", "minir1"]
    evals = ["--tag_style", "think", "--limit", str(args.limit), "--max_new_tokens", str(args.max_new_tokens)]
    seconds = {}
    before_dir, run_dir = out / "eval-before", out / "run"
    seconds["eval_before"] = run(minir1 + ["eval", "--model", args.model, *evals, "--output_dir", str(before_dir)])
    train = minir1 + ["train", "--config", RECIPE, "--model", args.model, "--output_dir", str(run_dir)]
    if args.max_steps:
        train += ["--max_steps", str(args.max_steps)]
    train += train_extra
    if any(run_dir.glob("checkpoint-*/trainer_state.json")) or (run_dir / runs.FINAL).is_dir():
        # started before: continue from its last checkpoint (a finished run does nothing)
        train = minir1 + ["train", "--resume", "--output_dir", str(run_dir)] + (
            ["--max_steps", str(args.max_steps)] if args.max_steps else [])
    elif runs.is_run(run_dir):  # stopped before its first checkpoint: nothing to keep
        train += ["--overwrite"]
    seconds["train_this_launch"] = run(train)

    from minir1.jsonl import append, read_jsonl

    steps = max(r["step"] for r in read_jsonl(run_dir / "metrics.jsonl") if "reward" in r)
    after_dir = out / f"eval-after-step{steps}"  # a run trained further is evaluated again, never mixed up
    seconds["eval_after"] = run(minir1 + ["eval", "--adapter", str(run_dir), *evals, "--output_dir", str(after_dir)])
    # every launch's wall seconds, kept in the output folder: a relaunch adds its own and replaces none
    append(out / WALL_SECONDS, [{"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **seconds}])

    from minir1.compare import compare_evals, load_eval

    (sb, _), (sa, _) = load_eval(before_dir), load_eval(after_dir)
    before, after = rates(sb), rates(sa)
    strict = compare_evals(before_dir, after_dir, examples=0)
    lenient = compare_evals(before_dir, after_dir, examples=0, verdict="lenient_correct")
    records = read_jsonl(run_dir / "metrics.jsonl")
    launches = read_jsonl(run_dir / "launches.jsonl")
    train_seconds = sum(r.get("step_seconds", 0) for r in records if "reward" in r)
    plot(run_dir, before, after, steps, Path(args.plot))
    saved = runs.saved_settings(run_dir)
    figures = {
        "model": "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF dequantized to bf16), not Qwen2.5-0.5B-Instruct",
        "recipe": RECIPE, "steps": steps,
        "train_seconds": round(train_seconds, 1), "seconds_per_step": round(train_seconds / steps, 1),
        "training_launches": [r["command"] for r in launches],
        "format_reward_90pct_step": format_step(records, runs.reward_points(run_dir)["format_rubric"]),
        "held_out": {"n": before["n"], "data": "gsm8k:test, the first problems", "decoding": "greedy",
                     "max_new_tokens": args.max_new_tokens, "prompt": "think system prompt (bare)",
                     "before": before, "after": after,
                     "mcnemar_strict_p": strict["mcnemar"]["p_exact"],
                     "strict_fixed": strict["b_only"], "strict_broken": strict["a_only"],
                     "mcnemar_lenient_p": lenient["mcnemar"]["p_exact"],
                     "lenient_fixed": lenient["b_only"], "lenient_broken": lenient["a_only"]},
        "emergence": emergence(before_dir, after_dir),
        "wall_seconds_by_launch": read_jsonl(out / WALL_SECONDS),
        "settings": {k: v for k, v in json.loads((run_dir / "grpo_config.json").read_text()).items()
                     if k in ("learning_rate", "num_generations", "per_device_train_batch_size",
                              "gradient_accumulation_steps", "max_completion_length", "temperature", "beta",
                              "loss_type", "model_init_kwargs", "activation_checkpointing", "warmup_steps",
                              "max_grad_norm", "scale_rewards", "seed", "mask_truncated_completions",
                              "reward_weights")}
        | {k: saved.get(k) for k in ("data", "data_limit", "max_solution_steps",  # minir1's: which problems,
                                     "rewards", "score_truncated")},  # the rewards, whether a cut one is scored
        "plot": str(Path(args.plot).resolve().relative_to(HERE.parent)) if Path(args.plot).resolve().is_relative_to(
            HERE.parent) else args.plot,
    }
    record(args.name, figures, notes="Each stage is a minir1 command (eval, train, eval), resumable; steps' seconds "
                                     "are summed from the run's metrics.jsonl across launches.")


if __name__ == "__main__":
    main()
