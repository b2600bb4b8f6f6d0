"""Tuning trials of ``minir1 demo``: does anything make GRPO raise the arithmetic (lenient accuracy)?

Issue 12 asks the demo to raise held-out lenient accuracy (the last number, format or
not) by 10 points with p < 0.01. This script runs the demo's own code
(:func:`minir1.demo.run_demo`) with the settings a trial names changed, each into its own
folder, and records every trial's figures side by side in
``bench/results/demo-trials.json`` (machine, command and date included).

Trials of two kinds:

* ``grpo``: the whole demo with the overrides shown (``DemoSettings`` fields; ``grpo.``
  keys change the GRPO settings).
* ``supervised``: an upper bound on what the GRPO phase could teach. The
  ``demo`` trial's warm-started model is trained further by supervised
  fine-tuning on the worked solutions (in the tag format) of N problems from the GRPO
  training pool (the first N of ``data/grpo.jsonl``; GRPO itself draws its prompts
  shuffled from the same pool): what a perfect teacher would give on as many prompts
  as GRPO sees (100 steps x 8 prompts = 800). It needs the ``demo`` trial: earlier in
  the same ``--trials``, or finished in ``--output_dir`` by an earlier run with the
  same seed and sizes.

``--output_dir`` belongs to this script: it must be new, empty, or written by it
before (it holds ``.demo-trials-output``); a trial's folder in it is replaced whole when
the trial runs again. The results file is written after every trial, so an
interruption keeps the trials already done.

Every trial evaluates the same held-out problems, greedy, as the demo does; lenient
McNemar tests are paired against the trial's own (or, for ``supervised``, the demo's)
evaluation before GRPO.

    python bench/demo_trials.py                  # demo, supervised-800, supervised-2000, lora-3e-4
    python bench/demo_trials.py --trials steps-300,temperature-1 --name demo-trials-more
    python bench/demo_trials.py --trials correctness-only,correctness-only-2e-4,correctness-only-kl \
        --name demo-trials-correctness
    python bench/demo_trials.py --trials direct-plain,bigger-warmstart --name demo-trials-direct
    python bench/demo_trials.py --trials direct-plain --seed 1 --name demo-trials-direct-seed1
    python bench/demo_trials.py --quick          # seconds: the smoke test's sizes
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import shutil
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
    "temperature-1": ("grpo", "sampling at temperature 1.0 at 1e-4",
                      {"grpo.temperature": 1.0, "grpo.learning_rate": 1e-4}),
    "correctness-only": ("grpo", "every warm-start completion tagged: no format phase, correctness the only "
                         "reward with spread", {"tagged_fraction": 1.0}),
    "correctness-only-2e-4": ("grpo", "no format phase (as correctness-only), at 2e-4",
                              {"tagged_fraction": 1.0, "grpo.learning_rate": 2e-4}),
    "correctness-only-kl": ("grpo", "no format phase, at 2e-4 with a KL penalty to the warm start (beta 0.04)",
                            {"tagged_fraction": 1.0, "grpo.learning_rate": 2e-4, "grpo.beta": 0.04}),
    "direct-plain": ("grpo", "plain answers give the number at once (tagged ones work it out), warm start on 8000 "
                     "problems x 1.5 epochs", {"warmstart_problems": 8000, "warmstart_epochs": 1.5,
                                               "plain_working": False}),
    "bigger-warmstart": ("grpo", "warm start on 8000 problems x 1.5 epochs (the control for direct-plain)",
                         {"warmstart_problems": 8000, "warmstart_epochs": 1.5}),
    "supervised-800": ("supervised", "warm start + supervised pass on 800 gold solutions (5e-4)", {"n": 800}),
    "supervised-2000": ("supervised", "warm start + supervised pass on 2000 gold solutions (5e-4)", {"n": 2000}),
}
SUPERVISED_LEARNING_RATE = 5e-4
MARKER = ".demo-trials-output"  # in --output_dir: the folder is this script's, and its trial folders may be replaced
WRITTEN_BY = "bench/demo_trials.py"
DEFAULT_TRIALS = "demo,supervised-800,supervised-2000,lora-3e-4"


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
    shutil.rmtree(out, ignore_errors=True)  # a trial folder inside --output_dir, which check_output_dir owns
    r = run_demo(out, seed=seed, settings=s, command=f"run_demo({out}, overrides={overrides})")
    return {"before": _brief(r["before"]), "after": _brief(r["after"]),
            "strict_p": r["mcnemar"]["p_exact"], "strict_fixed_broken": [r["fixed"], r["broken"]],
            "lenient_p": r["lenient_mcnemar"]["p_exact"],
            "lenient_fixed_broken": [r["lenient_fixed"], r["lenient_broken"]],
            "held_out_during_training": r["reward_curve"]["held_out_during_training"],
            "pass_at_k_before": r["pass_at_k_before"]["lenient"], "seconds": r["seconds"]["total"],
            "torch_threads": r["machine"]["torch_threads"]}


def supervised_trial(out: Path, demo_dir: Path, base, n: int, seed: int) -> dict:
    import torch

    from minir1.compare import compare_evals
    from minir1.data import load_problems
    from minir1.demo import SYSTEM_PROMPT, held_out_eval_settings
    from minir1.evaluate import run_eval
    from minir1.warmstart import sft_rows, warm_start

    t = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)  # never resume: the demo trial's warm start may be new
    problems = load_problems(str(demo_dir / "data" / "grpo.jsonl"), limit=n)  # the demo's own GRPO pool
    model = warm_start(str(demo_dir / "warmstart"), sft_rows(problems, "think", SYSTEM_PROMPT), out / "model",
                       epochs=1.0, learning_rate=SUPERVISED_LEARNING_RATE, batch_size=16, seed=seed)
    after = run_eval(held_out_eval_settings(str(model), None, str(demo_dir / "data" / "held-out.jsonl"), base, seed),
                     out / "eval-after", progress=False)
    before = json.loads((demo_dir / "results.json").read_text())["before"]
    lenient = compare_evals(demo_dir / "eval-before", out / "eval-after", examples=0, verdict="lenient_correct")
    return {"before": _brief(before), "after": _brief(after), "lenient_p": lenient["mcnemar"]["p_exact"],
            "lenient_fixed_broken": [lenient["b_only"], lenient["a_only"]], "problems": len(problems),
            "problems_digest": _digest([(p.id, p.question, p.solution) for p in problems]),
            "learning_rate": SUPERVISED_LEARNING_RATE,
            "seconds": round(time.perf_counter() - t, 1), "torch_threads": torch.get_num_threads()}


def _digest(rows: list[tuple[str, str, str]]) -> str:
    """A short hash of (id, question, solution) in order: which problems a trial trained on, checkable against
    a data file's rows."""
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def _ours(root: Path) -> bool:
    try:
        return json.loads((root / MARKER).read_text()).get("written_by") == WRITTEN_BY
    except (OSError, ValueError, AttributeError):
        return False


def check_output_dir(root: Path) -> None:
    """Refuse an ``--output_dir`` this script did not create (one line, before any work)."""
    if root.exists() and not root.is_dir():
        raise SystemExit(f"--output_dir {root} is a file: choose a folder for the trials")
    if root.is_dir() and any(root.iterdir()) and not _ours(root):
        raise SystemExit(f"--output_dir {root} is not empty and was not written by {WRITTEN_BY} (no {MARKER}), "
                         "so nothing in it is replaced: choose another --output_dir")


def claim_output_dir(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(json.dumps({"written_by": WRITTEN_BY}) + "\n")


def check_supervised_source(names: list[str], root: Path, base, seed: int) -> dict | None:
    """A supervised trial needs the demo trial first in ``names``, or finished in ``root`` with these settings.

    Returns the reused demo trial's command and date, or None when the demo trial runs now.
    """
    from dataclasses import asdict

    first = next((i for i, n in enumerate(names) if TRIALS[n][0] == "supervised"), None)
    if first is None or "demo" in names[:first]:
        return None
    if "demo" in names:
        raise SystemExit("--trials: put demo before the supervised trials, which start from its warm start")
    demo = root / "demo"
    try:
        ran = json.loads((demo / "demo.json").read_text())
        done = json.loads((demo / "results.json").read_text())
    except (OSError, ValueError):
        raise SystemExit(f"{demo} holds no finished demo trial: add demo to --trials (before the supervised "
                         "ones)") from None
    if ran.get("seed") != seed or ran.get("settings") != json.loads(json.dumps(asdict(base))):
        raise SystemExit(f"{demo} was run with another --seed or --quick: add demo to --trials to run it again")
    return {"command": done.get("command"), "date": done.get("machine", {}).get("date")}


def _brief(summary: dict) -> dict:
    return {k: round(summary[k], 4) for k in ("accuracy", "lenient_accuracy", "format_rate")} | {"n": summary["n"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", default=DEFAULT_TRIALS,
                    help=f"comma-separated, from: {', '.join(TRIALS)}")
    ap.add_argument("--output_dir", default="runs/demo-trials", help="one folder per trial is written here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="the smoke test's sizes (DemoSettings.quick), seconds")
    ap.add_argument("--name", default=None, help="results file name (default demo-trials, or demo-trials-quick); "
                    "required when --trials is not the default, so that the default file is never cut short")
    args = ap.parse_args()
    names = [t.strip() for t in args.trials.split(",") if t.strip()]
    unknown = [t for t in names if t not in TRIALS]
    if unknown:
        raise SystemExit(f"unknown trial {unknown[0]!r}: choose from {', '.join(TRIALS)}")

    from minir1.demo import DemoSettings
    from minir1.errors import UserError
    from minir1.train import configure_logging

    base = DemoSettings.quick() if args.quick else DemoSettings()
    for name in names:  # an unknown setting fails here, before any trial runs
        if TRIALS[name][0] == "grpo":
            settings_for(base, TRIALS[name][2])
    if args.name is None and not args.quick and names != DEFAULT_TRIALS.split(","):
        raise SystemExit(f"--trials other than the default ({DEFAULT_TRIALS}) need --name, a results file of "
                         "their own: bench/results/demo-trials.json holds the default set")
    root = Path(args.output_dir)
    check_output_dir(root)
    reused = check_supervised_source(names, root, base, args.seed)
    claim_output_dir(root)
    configure_logging()
    name_out = args.name or ("demo-trials-quick" if args.quick else "demo-trials")
    figures = {}
    for name in names:
        kind, what, overrides = TRIALS[name]
        print(f"trial {name}: {what}", flush=True)
        try:
            if kind == "grpo":
                result = grpo_trial(root / name, base, overrides, args.seed)
            else:
                result = supervised_trial(root / name, root / "demo", base, overrides["n"], args.seed)
        except UserError as e:
            raise SystemExit(f"trial {name}: {e}") from None
        figures[name] = {"kind": kind, "what": what, "overrides": overrides, **result,
                         **({"demo_trial_reused": reused} if kind == "supervised" and reused else {})}
        record(name_out, figures, notes=NOTES)  # after every trial: an interruption keeps what is done


NOTES = ("Each trial is minir1.demo.run_demo with the overrides shown (or, for 'supervised', a supervised pass "
         "from the demo trial's warm start); held-out lenient accuracy is the last number, format or not. See the "
         "script's docstring.")


if __name__ == "__main__":
    main()
