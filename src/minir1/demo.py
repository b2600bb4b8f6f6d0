"""``minir1 demo``: the whole method, offline, on a CPU, in a few minutes.

1. Build a tiny Qwen2-architecture model with random weights (``minir1.tiny``).
2. Warm start: a short supervised pass (TRL's SFTTrainer) on worked solutions of a
   synthetic arithmetic word-problem task (``minir1.synthetic``). Half of the worked
   solutions are in the tag format and half in plain text ("7 + 5 = 12. The answer
   is 12."), so the model starts where a real instruct model starts: it can do some
   of the arithmetic but uses the requested tags only part of the time. (Published
   GSM8K runs report Qwen2.5 Instruct models at a few percent strict accuracy and
   35-40% lenient before GRPO.)
3. Evaluate held-out problems with ``minir1 eval``'s code (strict rule, greedy).
4. GRPO through ``minir1 train``'s code with the Mini-R1 scheme (13-point format
   rubric + 10 points for correctness), evaluating held-out problems every 25 steps.
5. Evaluate again, compare the two evaluations with McNemar's paired test, draw the
   reward plot, and write ``report.md``.

What to expect: the format score saturates within ~25 steps and the correctness
reward then climbs, as in the Mini-R1 figure. Most of the held-out gain is the
model adopting the format; the lenient accuracy (last number anywhere) shows how
much of it is arithmetic. RL memorises arithmetic facts slowly, so with a budget of
minutes GRPO mostly teaches the format here; the report gives both numbers.

Everything lands in one folder (default ``runs/demo``): ``base-model/``,
``warmstart/``, ``data/``, ``eval-before/``, ``grpo/`` (a training run folder),
``eval-after/``, ``rewards.png`` and ``report.md``.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

log = logging.getLogger("minir1")

SYSTEM_PROMPT = "Think in <think> tags, answer in <answer> tags."  # short: the tiny model reads every token


@dataclass
class DemoSettings:
    """Sizes and settings of the demo; ``quick()`` shrinks them for smoke tests."""

    model_size: dict = field(default_factory=lambda: {"hidden_size": 128, "intermediate_size": 256,
                                                      "num_hidden_layers": 4, "num_attention_heads": 4,
                                                      "num_key_value_heads": 2})
    warmstart_problems: int = 4000
    warmstart_epochs: float = 2.0
    warmstart_learning_rate: float = 2e-3  # a random 0.4M-parameter model: far above a real model's 2e-5
    tagged_fraction: float = 0.5
    grpo_problems: int = 4000
    held_out: int = 300
    grpo: dict = field(default_factory=lambda: {
        # Full fine-tuning: on a model this small LoRA saves nothing and learned no faster in our trials.
        "lora": False,
        "learning_rate": 5e-5,  # 2e-4 made held-out arithmetic worse; 3e-5 barely moved
        "lr_scheduler_type": "constant",
        "max_steps": 100,
        "per_device_train_batch_size": 64,  # 8 prompts x 8 completions per step
        "num_generations": 8,
        "temperature": 0.7,  # at 1.0 the tiny model's samples drift into noise that GRPO then learns from
        "max_completion_length": 40,  # completions are ~22 tokens
        "beta": 0.0,
        "logging_steps": 1,
        "save_steps": 50,
        "sample_every": 10,
        "eval_every": 25,
        "eval_limit": 100,
        "plot": True,
    })

    @classmethod
    def quick(cls) -> DemoSettings:
        s = cls(warmstart_problems=64, warmstart_epochs=1.0, grpo_problems=64, held_out=16)
        s.model_size.update(hidden_size=64, intermediate_size=128, num_hidden_layers=2)
        s.grpo.update(max_steps=2, per_device_train_batch_size=16, eval_every=1, eval_limit=8, save_steps=2,
                      sample_every=1)
        return s


def plain_completion(problem) -> str:
    """A worked solution without tags: what a model that ignores the requested format writes."""
    from .prompts import solution_steps

    return f"{solution_steps(problem.solution)}\nThe answer is {problem.answer}."


def warmstart_rows(problems, tagged_fraction: float, seed: int) -> list[dict]:
    """Prompt-completion rows: ``tagged_fraction`` of them in the tag format, the rest in plain text."""
    from .prompts import build_prompt
    from .warmstart import sft_rows

    rng = random.Random(seed)
    rows = []
    for p in problems:
        if rng.random() < tagged_fraction:
            rows += sft_rows([p], "think", SYSTEM_PROMPT)
        else:
            rows.append({"prompt": build_prompt(p.question, "think", SYSTEM_PROMPT),
                         "completion": [{"role": "assistant", "content": plain_completion(p)}]})
    return rows


def _write_problems(path: Path, problems) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": p.id, "question": p.question, "answer": p.solution}) + "\n"
                            for p in problems), encoding="utf-8")
    return str(path)


def _stage(n: int, text: str) -> None:
    log.info("[%d/6] %s", n, text)


def run_demo(output_dir: str | Path = "runs/demo", *, seed: int = 0, overwrite: bool = False,
             settings: DemoSettings | None = None) -> dict:
    """Run the demo into ``output_dir`` and return its results (also in ``results.json`` and ``report.md``)."""
    from .compare import compare_evals
    from .config import load_config
    from .evaluate import eval_settings, run_eval
    from .synthetic import make_problems
    from .tiny import build_tiny_model
    from .train import train
    from .warmstart import warm_start

    s = settings or DemoSettings()
    out = Path(output_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise UserError(f"{out} already exists: pass --overwrite to run the demo again, or --output_dir elsewhere")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    times: dict[str, float] = {}
    start = time.perf_counter()

    def lap(name: str, t0: float) -> None:
        times[name] = round(time.perf_counter() - t0, 1)

    t = time.perf_counter()
    _stage(1, "building the tiny model and the synthetic problems")
    base = build_tiny_model(out / "base-model", seed=seed, **s.model_size)
    sft_problems = make_problems(s.warmstart_problems, seed=seed + 1)
    held_out = _write_problems(out / "data" / "held-out.jsonl", make_problems(s.held_out, seed=seed + 2,
                                                                              prefix="held-out"))
    grpo_data = _write_problems(out / "data" / "grpo.jsonl", make_problems(s.grpo_problems, seed=seed + 3))
    lap("build", t)

    t = time.perf_counter()
    _stage(2, f"warm start: supervised pass on {len(sft_problems)} worked solutions "
              f"({s.tagged_fraction:.0%} in the tag format)")
    warm = warm_start(str(base), warmstart_rows(sft_problems, s.tagged_fraction, seed), out / "warmstart",
                      epochs=s.warmstart_epochs, learning_rate=s.warmstart_learning_rate, batch_size=16, seed=seed)
    lap("warmstart", t)

    max_new = s.grpo["max_completion_length"]
    t = time.perf_counter()
    _stage(3, f"evaluating the warm-started model on {s.held_out} held-out problems")
    before = run_eval(eval_settings(str(warm), data=held_out, max_new_tokens=max_new, tag_style="think",
                                    system_prompt=SYSTEM_PROMPT, seed=seed), out / "eval-before")
    lap("eval_before", t)

    t = time.perf_counter()
    _stage(4, f"GRPO: {s.grpo['max_steps']} steps, Mini-R1 rewards (format 13 + correctness 10)")
    cfg = load_config(None, {**s.grpo, "recipe": "demo", "model": str(warm), "data": grpo_data,
                             "eval_data": held_out, "output_dir": str(out / "grpo"), "scheme": "mini-r1",
                             "tag_style": "think", "system_prompt": SYSTEM_PROMPT, "seed": seed})
    result = train(cfg, command=f"minir1 demo --output_dir {out}")
    lap("grpo", t)
    if result.interrupted:
        raise KeyboardInterrupt

    t = time.perf_counter()
    _stage(5, "evaluating the trained model on the same held-out problems")
    after = run_eval(eval_settings(None, str(result.run_dir), data=held_out, max_new_tokens=max_new, seed=seed),
                     out / "eval-after")
    comparison = compare_evals(out / "eval-before", out / "eval-after", examples=2)
    lap("eval_after", t)

    _stage(6, "writing rewards.png and report.md")
    if (result.run_dir / "plots" / "rewards.png").is_file():
        shutil.copy(result.run_dir / "plots" / "rewards.png", out / "rewards.png")
    times["total"] = round(time.perf_counter() - start, 1)
    results = {"before": _brief(before), "after": _brief(after), "mcnemar": comparison["mcnemar"],
               "fixed": comparison["b_only"], "broken": comparison["a_only"],
               "reward_curve": reward_curve(result.run_dir), "seconds": times, "seed": seed}
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(report(results, s), encoding="utf-8")
    return results


def _brief(summary: dict) -> dict:
    keys = ("n", "accuracy", "ci_low", "ci_high", "lenient_accuracy", "format_rate", "mean_length")
    return {k: summary[k] for k in keys}


def reward_curve(run_dir: Path, window: int = 10) -> dict:
    """Mean reward points over the first and last ``window`` logged steps, and the held-out evaluations."""
    from .jsonl import read_jsonl
    from .rewards import SCHEMES

    points = SCHEMES["mini-r1"]["rewards"]
    records = read_jsonl(Path(run_dir) / "metrics.jsonl")
    steps = [r for r in records if "reward" in r]

    def mean(rs, key, scale=1.0):
        values = [r[key] * scale for r in rs if key in r]
        return round(sum(values) / len(values), 2) if values else None

    def summary(rs) -> dict:
        return {"total": mean(rs, "reward"),
                "format": mean(rs, "rewards/format_rubric/mean", points["format_rubric"]),
                "correctness": mean(rs, "rewards/correctness/mean", points["correctness"])}

    return {
        "steps": len(steps),
        "first": summary(steps[:window]),
        "last": summary(steps[-window:]),
        "held_out_during_training": [(r["step"], round(r["eval/accuracy"], 3)) for r in records
                                     if "eval/accuracy" in r],
    }


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def report(results: dict, s: DemoSettings) -> str:
    """``report.md``: what was run, the reward curve, and held-out accuracy before and after."""
    b, a, m, c = results["before"], results["after"], results["mcnemar"], results["reward_curve"]
    secs = results["seconds"]
    fixed, broken = results["fixed"], results["broken"]
    lines = [
        "# minir1 demo",
        "",
        f"A tiny Qwen2-architecture model ({s.model_size['num_hidden_layers']} layers, hidden "
        f"{s.model_size['hidden_size']}, random initial weights), warm-started on {s.warmstart_problems} worked "
        f"solutions of synthetic arithmetic word problems ({s.tagged_fraction:.0%} in the tag format, the rest "
        f"in plain text), then trained with GRPO for {c['steps']} steps with the Mini-R1 rewards "
        "(13-point format rubric + 10 points for a correct answer).",
        "",
        "## Reward curve",
        "",
        "![rewards](rewards.png)",
        "",
        "| mean over | total (of 23) | format (of 13) | correctness (of 10) |",
        "| --- | --- | --- | --- |",
        f"| first 10 steps | {c['first']['total']} | {c['first']['format']} | {c['first']['correctness']} |",
        f"| last 10 steps | {c['last']['total']} | {c['last']['format']} | {c['last']['correctness']} |",
        "",
        "Held-out accuracy during training (step, strict accuracy on "
        f"{s.grpo['eval_limit']} problems): " + ", ".join(f"{st}: {_pct(acc)}" for st, acc
                                                          in c["held_out_during_training"]) + ".",
        "",
        f"## Held-out accuracy ({b['n']} problems, greedy, strict rule)",
        "",
        "| | strict accuracy (95% Wilson interval) | lenient (last number) | format ok |",
        "| --- | --- | --- | --- |",
        f"| before GRPO | {_pct(b['accuracy'])} ({_pct(b['ci_low'])} - {_pct(b['ci_high'])}) | "
        f"{_pct(b['lenient_accuracy'])} | {_pct(b['format_rate'])} |",
        f"| after GRPO | {_pct(a['accuracy'])} ({_pct(a['ci_low'])} - {_pct(a['ci_high'])}) | "
        f"{_pct(a['lenient_accuracy'])} | {_pct(a['format_rate'])} |",
        "",
        f"McNemar's paired test: {fixed} problems went from wrong to right and {broken} from right to wrong; "
        f"p = {m['p_exact']:.2g} (exact, two-sided).",
        "",
        "The strict rule counts an answer only inside one `<answer>` block; the lenient rule takes the last number "
        "anywhere, format or not, so it measures the arithmetic alone. Format compliance went from "
        f"{_pct(b['format_rate'])} to {_pct(a['format_rate'])} and the arithmetic from {_pct(b['lenient_accuracy'])} "
        f"to {_pct(a['lenient_accuracy'])}: most of the strict gain is the model adopting the format it is "
        "rewarded for, as in the first phase of the Mini-R1 figure.",
        "",
        f"Wall time: {secs['total']:.0f} s (model {secs['build']:.0f} s, warm start {secs['warmstart']:.0f} s, "
        f"evaluation {secs['eval_before'] + secs['eval_after']:.0f} s, GRPO {secs['grpo']:.0f} s).",
        "",
        "Files: `warmstart/` (the warm-started model), `grpo/` (the GRPO run folder: metrics.jsonl, samples.jsonl, "
        "plots/, final/), `eval-before/` and `eval-after/` (per-problem samples and summary.json).",
        "",
    ]
    return "\n".join(lines)


def cli_demo(args) -> int:
    """``minir1 demo``."""
    from .train import configure_logging

    configure_logging()
    settings = DemoSettings.quick() if args.quick else DemoSettings()
    results = run_demo(args.output_dir, seed=args.seed, overwrite=args.overwrite, settings=settings)
    b, a, m = results["before"], results["after"], results["mcnemar"]
    print(f"held-out strict accuracy: {_pct(b['accuracy'])} ({_pct(b['ci_low'])}-{_pct(b['ci_high'])}) before GRPO, "
          f"{_pct(a['accuracy'])} ({_pct(a['ci_low'])}-{_pct(a['ci_high'])}) after; McNemar p = {m['p_exact']:.2g}")
    print(f"report: {Path(args.output_dir) / 'report.md'} ({results['seconds']['total']:.0f} s)")
    return 0
