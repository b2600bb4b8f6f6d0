"""Tuning trials of ``minir1 demo``: does anything make GRPO raise the arithmetic (lenient accuracy)?

Issue 12 asks the demo to raise held-out lenient accuracy (the last number, format or
not) by 10 points with p < 0.01. This script runs the demo's own code
(:func:`minir1.demo.run_demo`) with one setting changed per trial, each into its own
folder, and records every trial's figures side by side in
``bench/results/demo-trials.json`` (machine, command and date included).

Trials of two kinds:

* ``grpo``: the whole demo with the overrides shown (``DemoSettings`` fields; ``grpo.``
  keys change the GRPO settings).
* ``supervised``: an upper bound on what the GRPO phase could teach. The
  ``demo`` trial's warm-started model is trained further by supervised
  fine-tuning on the worked solutions (in the tag format) of the first N GRPO training
  problems: what a perfect teacher would give on as many prompts as GRPO sees
  (100 steps x 8 prompts = 800). It needs the ``demo`` trial's folder (run it first, or
  in the same command).

Every trial evaluates the same held-out problems, greedy, as the demo does; lenient
McNemar tests are paired against the trial's own (or, for ``supervised``, the demo's)
evaluation before GRPO.

    python bench/demo_trials.py --trials demo,supervised-800,supervised-2000
    python bench/demo_trials.py --trials steps-300,lora-3e-4 --output_dir /tmp/trials
    python bench/demo_trials.py --quick          # seconds: the smoke test's sizes
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402

# name -> (kind, what it changes, overrides). "grpo." keys go into DemoSettings.grpo.
TRIALS = {
    "demo": ("grpo", "the demo as it ships", {}),
    "steps-300": ("grpo", "3x longer GRPO at the demo's learning rate",
                  {"grpo.max_steps": 300, "grpo.save_steps": 300, "grpo.eval_every": 50}),
    "lora-3e-4": ("grpo", "LoRA (rank 16, embeddings frozen) at 3e-4",
                  {"grpo.lora": True, "grpo.learning_rate": 3e-4}),
    "lr-1e-4-16-prompts": ("grpo", "16 prompts per step at 1e-4",
                           {"grpo.learning_rate": 1e-4, "grpo.per_device_train_batch_size": 128}),
    "temperature-1": ("grpo", "sampling at temperature 1.0 at 1e-4",
                      {"grpo.temperature": 1.0, "grpo.learning_rate": 1e-4}),
    "operands-6": ("grpo", "operands 2..6 (fewer facts), 3000 warm-start problems, 1e-4",
                   {"max_operand": 6, "warmstart_problems": 3000, "grpo.learning_rate": 1e-4}),
    "supervised-800": ("supervised", "warm start + supervised pass on 800 gold solutions (5e-4)", {"n": 800}),
    "supervised-2000": ("supervised", "warm start + supervised pass on 2000 gold solutions (5e-4)", {"n": 2000}),
}
SUPERVISED_LEARNING_RATE = 5e-4


def settings_for(base, overrides: dict):
    """A copy of ``base`` (DemoSettings) with ``overrides`` applied; an unknown key is an error."""
    s = copy.deepcopy(base)
    for key, value in overrides.items():
        if key.startswith("grpo."):
            s.grpo[key[5:]] = value
        elif hasattr(s, key):
            setattr(s, key, value)
        else:
            raise SystemExit(f"unknown demo setting {key!r}: use a DemoSettings field or grpo.<TRL setting>")
    return s


def grpo_trial(out: Path, base, overrides: dict, seed: int) -> dict:
    from minir1.demo import run_demo

    s = settings_for(base, overrides)
    r = run_demo(out, seed=seed, overwrite=True, settings=s, command=f"run_demo({out}, overrides={overrides})")
    return {"before": _brief(r["before"]), "after": _brief(r["after"]),
            "strict_p": r["mcnemar"]["p_exact"], "strict_fixed_broken": [r["fixed"], r["broken"]],
            "lenient_p": r["lenient_mcnemar"]["p_exact"],
            "lenient_fixed_broken": [r["lenient_fixed"], r["lenient_broken"]],
            "held_out_during_training": r["reward_curve"]["held_out_during_training"],
            "pass_at_k_before": r["pass_at_k_before"]["lenient"], "seconds": r["seconds"]["total"],
            "torch_threads": r["machine"]["torch_threads"]}


def supervised_trial(out: Path, demo_dir: Path, base, n: int, seed: int) -> dict:
    import torch

    from minir1.demo import SYSTEM_PROMPT, lenient_comparison
    from minir1.evaluate import eval_settings, read_samples, run_eval
    from minir1.synthetic import make_problems
    from minir1.warmstart import sft_rows, warm_start

    if not (demo_dir / "warmstart" / "config.json").is_file() or not (demo_dir / "eval-before").is_dir():
        raise SystemExit(f"{demo_dir} holds no finished demo trial: run --trials demo first (same --output_dir)")
    t = time.perf_counter()
    problems = make_problems(n, seed=seed + 3, max_operand=base.max_operand)  # the GRPO run's first n problems
    model = warm_start(str(demo_dir / "warmstart"), sft_rows(problems, "think", SYSTEM_PROMPT), out / "model",
                       epochs=1.0, learning_rate=SUPERVISED_LEARNING_RATE, batch_size=16, seed=seed)
    after = run_eval(eval_settings(str(model), None, data=str(demo_dir / "data" / "held-out.jsonl"),
                                   max_new_tokens=base.grpo["max_completion_length"], tag_style="think",
                                   system_prompt=SYSTEM_PROMPT, seed=seed), out / "eval-after", progress=False)
    before = {"n": len(read_samples(demo_dir / "eval-before" / "samples.jsonl")),
              **json.loads((demo_dir / "eval-before" / "summary.json").read_text())}
    lenient = lenient_comparison(demo_dir / "eval-before", out / "eval-after")
    return {"before": _brief(before), "after": _brief(after), "lenient_p": lenient["mcnemar"]["p_exact"],
            "lenient_fixed_broken": [lenient["fixed"], lenient["broken"]], "problems": n,
            "learning_rate": SUPERVISED_LEARNING_RATE, "seconds": round(time.perf_counter() - t, 1),
            "torch_threads": torch.get_num_threads()}


def _brief(summary: dict) -> dict:
    return {k: round(summary[k], 4) for k in ("accuracy", "lenient_accuracy", "format_rate")} | {"n": summary["n"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", default="demo,supervised-800,supervised-2000",
                    help=f"comma-separated, from: {', '.join(TRIALS)}")
    ap.add_argument("--output_dir", default="runs/demo-trials", help="one folder per trial is written here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the smoke test's sizes (DemoSettings.quick), seconds")
    ap.add_argument("--name", default=None, help="results file name (default demo-trials, or demo-trials-quick)")
    args = ap.parse_args()
    names = [t.strip() for t in args.trials.split(",") if t.strip()]
    unknown = [t for t in names if t not in TRIALS]
    if unknown:
        raise SystemExit(f"unknown trial {unknown[0]!r}: choose from {', '.join(TRIALS)}")

    from minir1.demo import DemoSettings
    from minir1.train import configure_logging

    configure_logging()
    base = DemoSettings.quick() if args.quick else DemoSettings()
    root = Path(args.output_dir)
    figures = {}
    for name in names:
        kind, what, overrides = TRIALS[name]
        print(f"trial {name}: {what}", flush=True)
        if kind == "grpo":
            result = grpo_trial(root / name, base, overrides, args.seed)
        else:
            n = min(overrides["n"], base.grpo_problems)
            result = supervised_trial(root / name, root / "demo", base, n, args.seed)
        figures[name] = {"kind": kind, "what": what, "overrides": overrides, **result}
        print(json.dumps(figures[name]), flush=True)
    record(args.name or ("demo-trials-quick" if args.quick else "demo-trials"), figures,
           notes="Each trial is minir1.demo.run_demo with the overrides shown (or, for 'supervised', a supervised "
                 "pass from the demo trial's warm start); held-out lenient accuracy is the last number, format "
                 "or not. See the script's docstring.")


if __name__ == "__main__":
    main()
