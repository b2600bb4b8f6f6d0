"""Where a GRPO run's steps got their signal, counted from finished runs' ``metrics.jsonl``.

With one prompt per step, a step's advantages come from one group of completions: they are zero
(only the KL term moves the model) unless the rewards differ, and then either because the answer
reward differs (a right answer among wrong ones) or the format reward alone does. This script counts, for each run:
the steps whose group had any spread (TRL's ``frac_reward_zero_std`` below 1), how many of them
had their gradient clipped (``grad_norm``, logged before clipping, above ``max_grad_norm``), the
smallest such norm, and after ``--after_step`` (once the format is learned) how many steps had
a spread in the answer reward and how many in the format alone, with the mean gradient norm each kind of
step gave the optimizer (after clipping). Each run is named by the
results file it belongs to (``bench/real_grpo.py``'s ``--name``)::

    python bench/step_signal.py real-grpo=/work/runs/real-grpo-lenient/run \\
        real-grpo-lenient-seed1=/work/runs/real-grpo-lenient-seed1/run
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402

NAME = "grpo-step-signal"


def count(records: list[dict], max_grad_norm: float, answer_reward: str, after_step: int) -> dict:
    """The counts for one run's logged steps (records with a ``grad_norm``); ``max_grad_norm`` 0 is no clip."""
    clip = max_grad_norm if max_grad_norm > 0 else float("inf")  # the Trainer clips only above 0
    steps = [r for r in records if "grad_norm" in r]
    spread = [r for r in steps if r.get("frac_reward_zero_std", 0) < 1]
    flat = [r for r in steps if r.get("frac_reward_zero_std", 0) >= 1]
    clipped = [r for r in spread if r["grad_norm"] > clip]
    late = [r for r in spread if r["step"] > after_step]
    answered, format_only = [], []
    for r in late:  # a spread in the answer reward, or else (a NaN included) in the format alone
        (answered if r.get(f"rewards/{answer_reward}/std", 0) > 0 else format_only).append(r)

    def applied(group: list[dict]) -> float | None:  # the mean gradient norm the optimizer got, after clipping
        return round(sum(min(r["grad_norm"], clip) for r in group) / len(group), 3) if group else None

    return {"steps": len(steps), "steps_with_spread": len(spread), "clipped_with_spread": len(clipped),
            "clipped_without_spread": sum(r["grad_norm"] > clip for r in flat),
            "smallest_grad_norm_with_spread": round(min((r["grad_norm"] for r in spread), default=0), 3),
            "late_steps_with_spread": len(late),
            "late_answer_spread": len(answered), "late_format_spread_only": len(format_only),
            "late_answer_grad_norm_applied": applied(answered), "late_format_only_grad_norm_applied": applied(format_only)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="NAME=RUN_DIR", help="a results file's name and its run folder")
    ap.add_argument("--after_step", type=int, default=25, help="count the answer's and the format's steps after it")
    args = ap.parse_args()
    from minir1 import runs
    from minir1.jsonl import read_jsonl
    from minir1.rewards import CORRECTNESS

    figures = {"after_step": args.after_step, "runs": {}}
    for spec in args.runs:
        name, sep, folder = spec.partition("=")
        run_dir = Path(folder)
        if not sep or not (run_dir / runs.METRICS).is_file():
            sys.exit(f"step_signal: {spec!r} is not NAME=RUN_DIR with a {runs.METRICS} in RUN_DIR")
        settings = runs.saved_settings(run_dir)  # config.yaml under what TRL ended with (grpo_config.json)
        answer = [n for n in settings.get("rewards") or [] if n in CORRECTNESS]
        if len(answer) != 1:
            sys.exit(f"step_signal: {run_dir} should train with one answer reward, it has {answer}")
        clip = settings["max_grad_norm"]
        figures["runs"][name] = {"answer_reward": answer[0], "max_grad_norm": clip,
                                 "scale_rewards": settings["scale_rewards"],
                                 **count(read_jsonl(run_dir / runs.METRICS), clip, answer[0], args.after_step)}
    record(NAME, figures, notes="Counted from each run's metrics.jsonl (TRL's logged grad_norm is before clipping).")


if __name__ == "__main__":
    main()
