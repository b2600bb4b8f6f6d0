"""``minir1 demo``: the whole method, offline, on a CPU, in a few minutes.

A tiny random Qwen2-architecture model is warm-started on synthetic arithmetic word problems, half of the
solutions in the tag format and half in plain text, so that, like a real instruct model, it uses the tags
only part of the time. It is evaluated on held-out problems (greedy, and pass@k at the GRPO temperature: the
headroom GRPO can turn into greedy accuracy), trained by ``minir1 train``'s code with the Mini-R1 rewards,
and evaluated again, with McNemar's paired test on the strict verdicts (answer in the tag format) and the
lenient ones (the last number: the arithmetic). Expect the two phases of the Mini-R1 figure: format, then
correctness. BENCHMARKS.md, "Demo tuning trials", holds the trials behind the settings.

Everything lands in one folder (default ``runs/demo``): ``base-model/``, ``warmstart/``, ``data/``,
``eval-before/``, ``eval-before-sampled/``, ``grpo/`` (a training run folder), ``eval-after/``,
``rewards.png``, ``results.json`` and ``report.md``. ``--overwrite`` replaces only a folder holding ``demo.json``.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import runs
from .compare import compare_evals
from .evaluate import SAMPLES, EvalSettings, pct, read_samples, run_eval, summarize
from .folders import check_replaceable
from .jsonl import dumps, read_jsonl, write_atomic, write_json
from .machine import describe, load_average
from .prompts import solution_steps
from .rewards import SCHEMES
from .stats import wilson
from .synthetic import make_problems
from .tiny import DEFAULT_SIZE, build_tiny_model
from .warmstart import sft_rows

log = logging.getLogger("minir1")

SYSTEM_PROMPT = "Think in <think> tags, answer in <answer> tags."  # short: the tiny model reads every token
MARKER = "demo.json"  # written first into every demo folder: what --overwrite may replace


@dataclass
class DemoSettings:
    """Sizes and settings of the demo; ``quick()`` shrinks them for smoke tests."""

    model_size: dict = field(default_factory=lambda: {**DEFAULT_SIZE, "hidden_size": 128, "intermediate_size": 256,
                                                      "num_hidden_layers": 4})
    max_operand: int = 9  # operands 2..max_operand, for the warm start, GRPO and held-out problems alike
    warmstart_problems: int = 4000
    warmstart_epochs: float = 2.0
    warmstart_learning_rate: float = 2e-3  # a tiny random model: far above a real model's 2e-5
    tagged_fraction: float = 0.5
    plain_working: bool = True  # plain-text answers show their working; False: they give the number at once
    grpo_problems: int = 4000
    held_out: int = 300
    pass_k: int = 8  # samples per problem for pass@k before GRPO
    pass_k_problems: int = 100  # the first N held-out problems
    grpo: dict = field(default_factory=lambda: {
        # Full fine-tuning: on a model this small LoRA saves nothing and learned no faster in our trials.
        "lora": False,
        "learning_rate": 5e-5,  # higher erased the arithmetic: BENCHMARKS.md, "Demo tuning trials"
        "lr_scheduler_type": "constant",
        "max_steps": 100,
        "per_device_train_batch_size": 64,  # 8 prompts x 8 completions per step
        "num_generations": 8,
        "temperature": 0.7,
        "dataloader_pin_memory": False,  # nothing to pin on a CPU (transformers warns otherwise)
        "max_completion_length": 40,  # room for one worked step in the tags, with margin
        "beta": 0.0,
        "logging_steps": 1, "save_steps": 50, "sample_every": 10, "eval_every": 25, "eval_limit": 100, "plot": True,
    })

    @classmethod
    def quick(cls) -> DemoSettings:
        s = cls(model_size=dict(DEFAULT_SIZE), warmstart_problems=64, warmstart_epochs=1.0, grpo_problems=64,
                held_out=16, pass_k=2, pass_k_problems=4)
        s.grpo.update(max_steps=2, per_device_train_batch_size=16, eval_every=1, eval_limit=8, save_steps=2,
                      sample_every=1)
        return s


def warmstart_rows(problems, tagged_fraction: float, seed: int, plain_working: bool = True) -> list[dict]:
    """Prompt-completion rows: ``tagged_fraction`` of them in the tag format, the rest in plain text as a model
    that ignores the format writes it: the worked steps then "The answer is 12.", or without ``plain_working``
    that sentence alone."""
    rng = random.Random(seed)
    rows = sft_rows(problems, "think", SYSTEM_PROMPT)
    for p, row in zip(problems, rows, strict=True):
        if rng.random() >= tagged_fraction:
            answer = f"The answer is {p.answer}."
            row["completion"][0]["content"] = f"{solution_steps(p.solution)}\n{answer}" if plain_working else answer
    return rows


def _write_problems(path: Path, problems) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, dumps([{"id": p.id, "question": p.question, "answer": p.solution} for p in problems]))
    return str(path)


def run_demo(output_dir: str | Path = "runs/demo", *, seed: int = 0, overwrite: bool = False,
             settings: DemoSettings | None = None, command: str | None = None) -> dict:
    """Run the demo into ``output_dir`` and return its results (also in ``results.json`` and ``report.md``)."""
    s = settings or DemoSettings()
    out = Path(output_dir)
    if check_replaceable(out, MARKER, overwrite, "a folder minir1 demo wrote"):
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    command = command or f"minir1 demo --output_dir {out}"
    write_json(out / MARKER, {"command": command, "seed": seed, "settings": asdict(s)})

    from .callbacks import progress_bars_on
    from .config import load_config
    from .train import train
    from .warmstart import warm_start  # looked up here, so a test can replace it

    progress = progress_bars_on()
    times: dict[str, float] = {}
    start = time.perf_counter()
    started_on = describe()

    @contextmanager
    def stage(n: int, text: str, timed: str | None = None):
        log.info("[%d/6] %s", n, text)
        t0 = time.perf_counter()
        yield
        if timed:
            times[timed] = round(time.perf_counter() - t0, 1)

    def problems(n: int, seed_offset: int, **kw):
        return make_problems(n, seed=seed + seed_offset, max_operand=s.max_operand, **kw)

    with stage(1, "building the tiny model and the synthetic problems", "build"):
        base = build_tiny_model(out / "base-model", seed=seed, **s.model_size)
        sft_problems = problems(s.warmstart_problems, 1)
        held_out = _write_problems(out / "data" / "held-out.jsonl", problems(s.held_out, 2, prefix="held-out"))
        grpo_data = _write_problems(out / "data" / "grpo.jsonl", problems(s.grpo_problems, 3))

    with stage(2, f"warm start: supervised pass on {len(sft_problems)} solutions "
                  f"({s.tagged_fraction:.0%} in the tag format, {s.warmstart_epochs:g} epochs)", "warmstart"):
        rows = warmstart_rows(sft_problems, s.tagged_fraction, seed, s.plain_working)
        warm = warm_start(str(base), rows, out / "warmstart", epochs=s.warmstart_epochs,
                          learning_rate=s.warmstart_learning_rate, batch_size=16, seed=seed)

    def evaluate(name: str, model: str | None, adapter: str | None = None, **kw) -> dict:
        summary = run_eval(held_out_eval_settings(model, adapter, held_out, s, seed, **kw), out / name,
                           progress=progress)
        log.info("%s: strict %s, lenient %s, format ok %s (%d problems, %.0f s)", name, pct(summary["accuracy"]),
                 pct(summary["lenient_accuracy"]), pct(summary["format_rate"]), summary["n"], summary["wall_seconds"])
        return summary

    temperature = s.grpo["temperature"]
    with stage(3, f"evaluating the warm-started model on {s.held_out} held-out problems (greedy), and pass@"
                  f"{s.pass_k} on the first {s.pass_k_problems} (temperature {temperature:g})", "eval_before"):
        before = evaluate("eval-before", str(warm))
        sampled = evaluate("eval-before-sampled", str(warm), samples=s.pass_k, temperature=temperature,
                           limit=min(s.pass_k_problems, s.held_out))

    with stage(4, f"GRPO: {s.grpo['max_steps']} steps, Mini-R1 rewards (format 13 + correctness 10)", "grpo"):
        cfg = load_config(None, {**s.grpo, "recipe": "demo", "model": str(warm), "data": grpo_data,
                                 "eval_data": held_out, "output_dir": str(out / "grpo"), "scheme": "mini-r1",
                                 "tag_style": "think", "system_prompt": SYSTEM_PROMPT, "seed": seed})
        result = train(cfg, command=command)
    if result.interrupted:
        raise KeyboardInterrupt

    with stage(5, "evaluating the trained model on the same held-out problems", "eval_after"):
        after = evaluate("eval-after", None, str(result.run_dir))
        comparison = compare_evals(out / "eval-before", out / "eval-after", examples=2)
        lenient = compare_evals(out / "eval-before", out / "eval-after", examples=0, verdict="lenient_correct")

    with stage(6, "writing rewards.png, results.json and report.md"):
        if (result.run_dir / "plots" / "rewards.png").is_file():
            shutil.copy(result.run_dir / "plots" / "rewards.png", out / "rewards.png")
    times["total"] = round(time.perf_counter() - start, 1)
    results = {
        "before": _brief(before), "after": _brief(after),
        "pass_at_k_before": pass_at_k_summary(out / "eval-before-sampled", sampled, temperature),
        "mcnemar": comparison["mcnemar"], "fixed": comparison["b_only"], "broken": comparison["a_only"],
        "lenient_mcnemar": lenient["mcnemar"], "lenient_fixed": lenient["b_only"], "lenient_broken": lenient["a_only"],
        "reward_curve": reward_curve(result.run_dir), "emergence": emergence(result.run_dir / runs.EVAL_SAMPLES),
        "seconds": times, "seed": seed, "command": command, "settings": asdict(s),
        "machine": {**started_on, "load_average_end": load_average()},
    }
    write_json(out / "results.json", results)
    (out / "report.md").write_text(report(results, s), encoding="utf-8")
    return results


def held_out_eval_settings(model: str | None, adapter: str | None, held_out: str, s: DemoSettings, seed: int,
                           **kw):
    """How the demo evaluates its held-out problems (greedy unless ``samples``): one rule for every caller."""
    return EvalSettings(model, adapter, data=held_out, max_new_tokens=s.grpo["max_completion_length"],
                        tag_style="think", system_prompt=SYSTEM_PROMPT, seed=seed, **kw).resolve()


def _brief(summary: dict) -> dict:
    keys = ("n", "accuracy", "ci_low", "ci_high", "lenient_accuracy", "lenient_ci_low", "lenient_ci_high",
            "format_rate", "mean_length", "truncation_rate")
    low, high = wilson(round(summary["lenient_accuracy"] * summary["n"]), summary["n"])
    return {k: v for k, v in {**summary, "lenient_ci_low": low, "lenient_ci_high": high}.items() if k in keys}


def pass_at_k_summary(folder: Path, summary: dict, temperature: float) -> dict:
    """pass@1..k of a sampled evaluation, strict (from its summary) and lenient (from its samples)."""
    lenient = [{**r, "n_correct": sum(c["lenient_correct"] for c in r["samples"])}
               for r in read_samples(Path(folder) / SAMPLES)]
    return {"n": summary["n"], "k": summary["samples_per_problem"], "temperature": temperature,
            "strict": summary["pass_at_k"], "lenient": summarize(lenient)["pass_at_k"],
            "format_rate": summary["format_rate"]}


def reward_curve(run_dir: Path, window: int = 10) -> dict:
    """Mean reward points over the first and last ``window`` logged steps, and the held-out evaluations."""
    points = SCHEMES["mini-r1"]["rewards"]
    records = read_jsonl(Path(run_dir) / runs.METRICS)
    steps = [r for r in records if "reward" in r]

    def mean(rs, key, scale=1.0):
        values = [r[key] * scale for r in rs if key in r]
        return round(sum(values) / len(values), 2) if values else None

    def summary(rs) -> dict:
        return {"total": mean(rs, "reward"),
                "format": mean(rs, "rewards/format_rubric/mean", points["format_rubric"]),
                "correctness": mean(rs, "rewards/correctness/mean", points["correctness"])}

    n = len(steps)  # quarters show the two phases: format saturates early, correctness keeps rising
    parts = [steps[q * n // 4:(q + 1) * n // 4] for q in range(4)]
    quarters = [{"steps": [part[0]["step"], part[-1]["step"]], **summary(part)} for part in parts if part]
    return {
        "steps": n, "first": summary(steps[:window]), "last": summary(steps[-window:]), "quarters": quarters,
        "held_out_during_training": [
            {"step": r["step"], "strict": round(r["eval/accuracy"], 3),
             "lenient": round(r.get("eval/lenient_accuracy", float("nan")), 3),
             "format": round(r.get("eval/format_rate", float("nan")), 3)}
            for r in records if "eval/accuracy" in r],
    }


def emergence(path: Path) -> dict | None:
    """One held-out problem followed through training: its greedy completion at every evaluation.

    The first (in held-out order) that best tells the story: wrong at the start, right at the end, and in
    between right in format but not in arithmetic (the two phases); else any wrong-to-right one.
    """
    by_id: dict[str, list[dict]] = {}
    for r in read_jsonl(Path(path)):
        by_id.setdefault(r["id"], []).append(r)
    if not by_id:
        return None

    def rank(history: list[dict]) -> int:
        first, last = history[0], history[-1]
        if first["correct"] or not last["correct"]:
            return 0
        two_phases = any(h["format_ok"] and not h["lenient_correct"] for h in history[1:-1])
        return 3 if two_phases and not first["format_ok"] else 2 if two_phases else 1

    best = max(by_id, key=lambda i: rank(by_id[i]))  # max keeps the first of equals: held-out order
    history = by_id[best]
    return {"id": best, "gold": history[0]["gold"],
            "steps": [{k: h.get(k) for k in ("step", "completion", "correct", "lenient_correct", "format_ok")}
                      for h in history]}


def _interval(b: dict, prefix: str = "") -> str:
    return f"{pct(b[prefix + 'accuracy'])} ({pct(b[prefix + 'ci_low'])} - {pct(b[prefix + 'ci_high'])})"


def _verdict(h: dict) -> str:
    if h["correct"]:
        return "right, in the format"
    fmt = "format ok" if h["format_ok"] else "format wrong"
    return f"{fmt}, last number {'right' if h['lenient_correct'] else 'wrong'}"


def _phases(quarters: list[dict]) -> str:
    """What the reward curve did, in words, from its quarters (the two phases of the Mini-R1 figure)."""
    if len(quarters) < 4:
        return "Too few steps to tell the phases apart."
    first, second, last = quarters[0], quarters[1], quarters[-1]
    return (f"Format: {first['format']} of 13 points in the first quarter of training, {second['format']} in the "
            f"second, {last['format']} in the last. Correctness: {first['correctness']}, then {second['correctness']}, "
            f"then {last['correctness']} of 10 points. The Mini-R1 figure's two phases are the format saturating "
            "first and correctness, the only reward left with any spread, rising after it.")


def report(results: dict, s: DemoSettings) -> str:
    """``report.md``: what was run, the two phases of the reward curve, held-out accuracy, pass@k, an example."""
    b, a, m, c = results["before"], results["after"], results["mcnemar"], results["reward_curve"]
    ml, pk, secs = results["lenient_mcnemar"], results["pass_at_k_before"], results["seconds"]
    g = s.grpo
    blocks = [
        "# minir1 demo",
        f"A tiny Qwen2-architecture model ({s.model_size['num_hidden_layers']} layers, hidden "
        f"{s.model_size['hidden_size']}, random initial weights), warm-started ({s.warmstart_epochs:g} epochs) on "
        f"{s.warmstart_problems} worked solutions of synthetic one-step arithmetic word problems (operands 2 to "
        f"{s.max_operand}; {s.tagged_fraction:.0%} of them in the tag format, the rest in plain text), then "
        f"trained with GRPO for {c['steps']} steps ({g['per_device_train_batch_size'] // g['num_generations']} "
        f"prompts x {g['num_generations']} completions per step, learning rate {g['learning_rate']:g}, temperature "
        f"{g['temperature']:g}) with the Mini-R1 rewards (13-point format rubric + 10 points for a correct answer). "
        f"The {b['n']} held-out problems come from the same distribution as the training problems (other seeds).",
        "## Headroom before GRPO",
        "RL can only sharpen what sampling already finds. Before GRPO, on the first "
        f"{pk['n']} held-out problems, {pk['k']} samples each at temperature {pk['temperature']:g}:",
        "\n".join(["| | " + " | ".join(pk["strict"]) + " |",
                   "| --- |" + " --- |" * len(pk["strict"]),
                   "| strict | " + " | ".join(pct(v) for v in pk["strict"].values()) + " |",
                   "| lenient (last number) | " + " | ".join(pct(v) for v in pk["lenient"].values()) + " |"]),
        f"Greedy decoding gets {pct(b['accuracy'])} strict and {pct(b['lenient_accuracy'])} lenient on all "
        f"{b['n']}: the gap to pass@{pk['k']} is what GRPO can turn into greedy accuracy.",
        "## Reward curve",
        "![rewards](rewards.png)",
        "\n".join(["| steps | total (of 23) | format (of 13) | correctness (of 10) |",
                   "| --- | --- | --- | --- |",
                   *(f"| {q['steps'][0]}-{q['steps'][1]} | {q['total']} | {q['format']} | {q['correctness']} |"
                     for q in c["quarters"])]),
        "Held-out greedy accuracy during training (first "
        f"{g['eval_limit']} held-out problems; the red lines of the plot):",
        "\n".join(["| step | strict | lenient (last number) | format ok |",
                   "| --- | --- | --- | --- |",
                   *(f"| {e['step']} | {pct(e['strict'])} | {pct(e['lenient'])} | {pct(e['format'])} |"
                     for e in c["held_out_during_training"])]),
        _phases(c["quarters"]),
        f"## Held-out accuracy ({b['n']} problems, greedy)",
        "\n".join(["| | strict (95% Wilson interval) | lenient, last number (95% Wilson interval) | format ok |",
                   "| --- | --- | --- | --- |",
                   *(f"| {name} | {_interval(x)} | {_interval(x, 'lenient_')} | "
                     f"{pct(x['format_rate'])} |" for name, x in (("before GRPO", b), ("after GRPO", a)))]),
        f"McNemar's paired test (exact, two-sided): strict, {results['fixed']} problems went from wrong to right and "
        f"{results['broken']} from right to wrong, p = {m['p_exact']:.2g}; lenient, {results['lenient_fixed']} and "
        f"{results['lenient_broken']}, p = {ml['p_exact']:.2g}.",
        f"The arithmetic itself (lenient accuracy) moved {100 * (a['lenient_accuracy'] - b['lenient_accuracy']):+.1f} "
        f"points (McNemar p = {ml['p_exact']:.2g}); format compliance went from {pct(b['format_rate'])} to "
        f"{pct(a['format_rate'])}.",
        "The strict rule counts an answer only inside one `<answer>` block; the lenient rule takes the last number "
        "anywhere, format or not, so it measures the arithmetic alone. Both are judged on the whole completion, "
        "generated to the end of the turn as in training.",
    ]
    example = results.get("emergence")
    if example:
        blocks.append(f"## One held-out problem through training (gold answer {example['gold']})")
        blocks += [f"Step {h['step']}: {_verdict(h)}\n\n```\n{h['completion'].strip() or '(empty)'}\n```"
                   for h in example["steps"]]
    blocks += [
        f"Wall time: {secs['total']:.0f} s (model {secs['build']:.0f} s, warm start {secs['warmstart']:.0f} s, "
        f"evaluation {secs['eval_before'] + secs['eval_after']:.0f} s, GRPO {secs['grpo']:.0f} s) on "
        f"{results['machine']['cpu']} ({results['machine']['torch_threads']} threads, load average "
        f"{results['machine']['load_average'][0] if results['machine']['load_average'] else '?'} at the start). "
        "CPU kernels differ between machines, so the figures vary slightly from one machine to another; on one "
        "machine the same command gives the same figures.",
        "Files: `warmstart/` (the warm-started model), `grpo/` (the GRPO run folder: metrics.jsonl, samples.jsonl, "
        "eval_samples.jsonl, plots/, final/), `eval-before/`, `eval-before-sampled/` and `eval-after/` (per-problem "
        "samples and summary.json), `results.json` (every figure above, with machine, versions and date).",
    ]
    return "\n\n".join(blocks) + "\n"  # paragraphs and tables, one blank line apart


def cli_demo(args) -> int:
    """``minir1 demo``."""
    from .train import configure_logging

    configure_logging()
    settings = DemoSettings.quick() if args.quick else DemoSettings()
    command = "minir1 demo" + (" --quick" if args.quick else "") + f" --output_dir {args.output_dir}" + (
        f" --seed {args.seed}" if args.seed else "")
    results = run_demo(args.output_dir, seed=args.seed, overwrite=args.overwrite, settings=settings, command=command)
    b, a, m, ml = results["before"], results["after"], results["mcnemar"], results["lenient_mcnemar"]
    print(f"held-out strict accuracy: {pct(b['accuracy'])} ({pct(b['ci_low'])}-{pct(b['ci_high'])}) before GRPO, "
          f"{pct(a['accuracy'])} ({pct(a['ci_low'])}-{pct(a['ci_high'])}) after; McNemar p = {m['p_exact']:.2g}")
    print(f"held-out lenient accuracy (the arithmetic): {pct(b['lenient_accuracy'])} before, "
          f"{pct(a['lenient_accuracy'])} after; McNemar p = {ml['p_exact']:.2g}")
    print(f"report: {Path(args.output_dir) / 'report.md'} ({results['seconds']['total']:.0f} s)")
    return 0
