"""Write BENCHMARKS.md from bench/results/*.json: every figure with its machine, command and date.

    python bench/report.py                 # reads bench/results, writes BENCHMARKS.md
    python bench/report.py --out FILE      # writes FILE instead (the test compares it with BENCHMARKS.md)

Each section is one function that returns its Markdown lines; :data:`SECTIONS` lists
them in the order they appear. A new benchmark adds a function that reads its
results with :func:`load`, ends with :func:`provenance` (machine, load, command,
date) and says :func:`not_measured` when its file is missing, then adds it to
:data:`SECTIONS`. Quick-mode results (written by the test suite's smoke runs
elsewhere) are never read. The time-to-accuracy estimate is computed from a GPU
step-time measurement when ``grpo_step-gpu.json`` exists, and says so when it does not.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = Path(os.environ.get("MINIR1_BENCH_RESULTS", HERE / "results"))
OUT = HERE.parent / "BENCHMARKS.md"
PROMPTS_TO_PLATEAU = 40_000  # prompts the published single-GPU GSM8K runs needed to plateau (issue #5)
PUBLISHED_GPU_HOURS = 8  # the published PPO run on one GPU
TRL_SEED = 42  # GRPOConfig's default seed (not imported: TRL would load torch for a report)
TRL_SCALING = "group"  # GRPOConfig's default scale_rewards, which every run recorded without it used


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def provenance(r: dict) -> str:
    """The line under every measurement: date, machine, libraries, load average and the command."""
    m = r["machine"]
    where = m.get("gpu") or f"{m.get('cpu', 'CPU')}, {m.get('cores')} cores, {m.get('memory_gb')} GB"
    libs = ", ".join(f"{k} {m[k]}" for k in ("torch", "transformers", "trl", "peft", "vllm") if k in m)
    load = r.get("load_average")
    shared = f"; load average {load['start'][0]} at the start, {load['end'][0]} at the end" if load else ""
    return f"*{r['date']} on {where} ({libs}{shared}); command: `{r['command']}`*"


def not_measured(command: str, why: str = "") -> list[str]:
    return [f"Not measured yet{why}: run `{command}`, then `python bench/report.py`.", ""]


def table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def fmt(x, spec: str = ".2f") -> str:
    return "" if x is None else format(x, spec)


# --- sections ----------------------------------------------------------------------------------


def header() -> list[str]:
    return ["# Benchmarks", "",
            "Every figure here was measured by a script in `bench/` and is written into this file by "
            "`python bench/report.py` from `bench/results/*.json`, with the machine, command and date it came "
            "from. The machine these ran on may be shared: each section gives the load average, and comparisons "
            "are ratios measured side by side in one run, in alternating order. `make bench` reruns the quick CPU "
            "benchmarks (those in `bench/run_all.py`) and this file; every other section names its own command.",
            ""]


def grpo_table(r: dict) -> list[str]:
    f = r["figures"]
    speed, per_round = f.get("speedup_vs_seeds", {}), f.get("speedup_vs_seeds_per_round", {})
    rows = []
    for name, s in f["setups"].items():
        settings = ", ".join(f"{k}={v}" for k, v in s["settings"].items())
        if "error" in s:
            rows.append([f"`{name}`", settings, "failed: " + s["error"], "", "", "", "", ""])
            continue
        ratio = f"{speed[name]}x" + (f" ({', '.join(map(str, per_round[name]))})" if name in per_round else "") \
            if name in speed else ""
        memory = s.get("peak_gpu_memory_gb") or s.get("peak_cpu_memory_gb")
        runs = ", ".join(fmt(x.get("seconds_per_step")) for x in s.get("runs", []))
        rows.append([f"`{name}`", settings, f"{s['seconds_per_step']:.2f}" + (f" ({runs})" if runs else ""),
                     f"{s['generated_tokens_per_second']:.0f}", fmt(s.get("completions_per_step"), "g"),
                     str(s.get("received", {}).get("activation_checkpointing", "not recorded")), ratio, memory])
    rounds = f"{f.get('rounds')} round" + ("s" if f.get("rounds") != 1 else "")
    order = f"; {rounds}, in the order {', '.join(f['order'])}" if "order" in f else ""
    order += f"; torch threads per run: {f['torch_threads']}" if "torch_threads" in f else ""
    return [f"Work per generation batch: {f['work_per_step']}{order}.", "",
            *table(["setup", "settings", "s/step, median (each round)", "generated tokens/s",
                    "completions per step", "activation_checkpointing (as the trainer got it)",
                    "speed vs seeds, median (each round)", "peak memory (GB)"], rows),
            "", provenance(r), ""]


def grpo_step() -> list[str]:
    lines = ["## GRPO step cost: the seeds' setup against minir1's defaults", "",
             "Same prompts, 8 prompts x 8 completions per generation batch, same length limit. `seeds` runs TRL as "
             "the Mini-R1 seed's recipe does: one completion per micro-batch with gradient accumulation, "
             "gradient checkpointing, LoRA rank 16 / alpha 32 with dropout 0.05. `minir1` is this project's "
             "defaults (no gradient checkpointing, no LoRA dropout) with micro-batches of 16 x 4. The ablations "
             "change one thing each (see `bench/grpo_step.py`). Seconds per step are the wall time of whole "
             "generation cycles (after a warm-up cycle) over their optimizer steps; tokens and completions are "
             "counted as generated; `minir1+mu2` generates half the completions per step, so it is not the same "
             "work. The `activation_checkpointing` column (gradient checkpointing; `gradient_checkpointing` is its deprecated alias in transformers) is read back from the `GRPOConfig` the trainer saved.", "",
             "### CPU: the demo-sized tiny model (4 layers, hidden 128)", ""]
    r = load("grpo_step-cpu")
    lines += grpo_table(r) if r else not_measured("python bench/grpo_step.py")
    pair, r = r, load("grpo_step-cpu-ablations")
    if r:
        lines += ["#### One change at a time, each against `seeds` in the same run", ""]
        both = [x["figures"].get("speedup_vs_seeds", {}).get("minir1") for x in (pair or {"figures": {}}, r)]
        if None not in both and r["figures"].get("rounds") == 1:
            lines += [f"One round, so each row is a single run: this run's `minir1` against `seeds` ({both[1]}x) "
                      f"against the alternating rounds above ({both[0]}x) shows how far a single run on this "
                      "machine can move.", ""]
        lines += grpo_table(r)
    lines += ["### GPU: Qwen2.5-0.5B-Instruct's architecture, random weights", ""]
    r = load("grpo_step-gpu")
    lines += grpo_table(r) if r else not_measured("python bench/grpo_step.py --gpu", " (no GPU was available)")
    return lines


def rollout() -> list[str]:
    lines = ["## Rollout throughput per generation backend", ""]
    for mode, title in (("cpu", "CPU, demo-sized tiny model"), ("gpu", "GPU, Qwen2.5-0.5B architecture")):
        lines += [f"### {title}", ""]
        r = load(f"rollout_throughput-{mode}")
        if r is None:
            lines += not_measured("python bench/rollout_throughput.py" + (" --gpu" if mode == "gpu" else ""),
                                  " (no GPU was available)" if mode == "gpu" else "")
            continue
        f = r["figures"]
        ratio = f["ratio_to_transformers_generate"]
        rows = [[k, v, f"{ratio[k]}x" if k in ratio else ""] for k, v in f["tokens_per_second"].items()]
        lines += [f"Rollout: {f['rollout']}.", "",
                  *table(["backend", "generated tokens/s", "vs transformers generate"], rows), "", r["notes"], "",
                  provenance(r), ""]
    return lines


def generation() -> list[str]:
    lines = ["## Evaluation generation (greedy, `minir1 eval`'s backend)", ""]
    r = load("generation_throughput")
    if r is None:
        return lines + not_measured("python bench/generation_throughput.py")
    f = r["figures"]
    rows = [[k, v] for k, v in f["tokens_per_second"].items()]
    return lines + [f"{f['max_new_tokens']} new tokens forced, prompts of {f['mean_prompt_tokens']} tokens on "
                    f"average, torch threads {f['torch_threads']}. Fastest over naive (one prompt at a time): "
                    f"{f['fastest_over_naive']}x; eval's default over naive: {f['default_over_naive']}x.", "",
                    *table(["setting", "tokens/s"], rows), "", provenance(r), ""]


def processes() -> list[str]:
    lines = ["## One process against two (torchrun, gloo, CPU)", ""]
    r = load("processes-cpu")
    if r is None:
        return lines + not_measured("python bench/processes.py")
    f = r["figures"]
    rows = []
    for k in ("one_process", "two_processes"):
        s = f[k]
        runs = ", ".join(fmt(x["seconds_per_step"]) for x in s.get("runs", []))
        rows.append([s["processes"], s["threads_per_process"], f"{s['seconds_per_step']:.2f}" +
                     (f" ({runs})" if runs else ""), fmt(s.get("generated_tokens_per_second"), ".0f")])
    per_round = f.get("two_over_one_time_per_round")
    order = f", in the order {', '.join(map(str, f['order']))} processes" if "order" in f else ""
    return lines + [f"Work per step: {f['work_per_step']}{order}.", "",
                    *table(["processes", "threads each", "s/step, median (each run)", "generated tokens/s"], rows),
                    "", f"Two processes take {f['two_over_one_time']}x the time of one per step" +
                    (f" (median of the rounds' {', '.join(map(str, per_round))})." if per_round else "."), "",
                    provenance(r), ""]


def recipe_step() -> list[str]:
    lines = []
    for mode, recipe, title in (("cpu", "tiny", "the `tiny` recipe on a CPU"),
                                ("gpu", "mini-r1", "the `mini-r1` recipe on a GPU")):
        lines += [f"## Step time of {title}", ""]
        r = load(f"recipe_step-{recipe}-{mode}")
        if r is None:
            if mode == "gpu" and load("recipe_memory-mini-r1-gpu"):
                lines += ["Measured side by side with every micro-batch size: the next section.", ""]
                continue
            lines += not_measured(f"python bench/recipe_step.py --recipe {recipe}" + (" --gpu" if mode == "gpu" else ""),
                                  " (no GPU was available)" if mode == "gpu" else "")
            continue
        f = r["figures"]
        memory = f"{f['peak_gpu_memory_gb']} GB GPU" if f.get("peak_gpu_memory_gb") else f"{f['peak_cpu_memory_gb']} GB"
        timed = f" ({f['timed_steps']} timed after a warm-up)" if "timed_steps" in f else ""
        lines += [f"{f['seconds_per_step']} s per step, {f['generated_tokens_per_second']} generated tokens/s, peak "
                  f"memory {memory}, over {f['steps']} steps{timed} on {f['model']}.", "", provenance(r), ""]
    return lines + recipe_memory()


GPU_MEMORY_GB = 24  # the one GPU many users have: the mini-r1 recipe must fit it


def recipe_memory() -> list[str]:
    lines = ["## Peak GPU memory of the `mini-r1` recipe per micro-batch size", ""]
    r = load("recipe_memory-mini-r1-gpu")
    if r is None:
        return lines + not_measured("python bench/gpu_check.py --wheels .whl --out OUT", " (no GPU was available)")
    f = r["figures"]
    rows = []
    for name, v in f["runs"].items():
        if "error" in v:
            rows.append([f"`{name}`", "", "", "", "", v["error"]])
            continue
        fits = "yes" if v["peak_gpu_memory_gb"] < GPU_MEMORY_GB else "**no**"
        rows.append([f"`{name}`", f"{v['per_device_train_batch_size']} x {v['gradient_accumulation_steps']}",
                     "on" if v["activation_checkpointing"] else "off", v["peak_gpu_memory_gb"], fits,
                     f"{v['seconds_per_step']:.1f}"])
    first = next(v for v in f["runs"].values() if "error" not in v)
    timed = f"{first['steps'] - first['timed_steps']} warm-up and {first['timed_steps']} timed step(s) per run"
    return lines + [f"The `mini-r1` recipe ({f['work_per_step']} of at most {first['max_completion_length']} tokens per "
                    f"step) on {first['model']}, {timed}. Peak memory is "
                    "PyTorch's `max_memory_allocated` in the training process (the CUDA context and the allocator's "
                    f"cache come on top). {f['side_by_side'][0].upper()}{f['side_by_side'][1:]}: single shared "
                    "steps, not enough to rank the settings by speed (with checkpointing, which adds recomputation, "
                    "they came out faster). With checkpointing the peak is the same at every micro-batch size, so "
                    "another phase of the step sets it (generation, most likely; not measured apart here).",
                    "",
                    *table(["setup", "micro-batch x accumulation", "activation checkpointing", "peak GPU memory (GB)",
                            f"under {GPU_MEMORY_GB} GB", "s/step (shared GPU)"], rows), "", provenance(r), ""]


def gpu_check() -> list[str]:
    lines = ["## Measuring on a GPU", "",
             "`bench/gpu_check.py` measures every GPU figure above in one call, for a session that is lent a GPU "
             "(Python 3.12 with torch, transformers, peft and accelerate, no TRL or datasets, no network, 64 MiB "
             "carried per call). In order:", "",
             "1. `.venv/bin/python bench/gpu_carry.py`: the wheels the GPU machine lacks into the ignored `.whl/`, "
             "and a check that they and the working tree stay under 64 MiB;",
             "2. the device tool's `run` with `carry: [\".whl\"]` and the command "
             "`python3 bench/gpu_check.py --wheels .whl --out \"$OUT\"` (a budget of 8 minutes: a stage that does "
             "not fit is recorded as skipped, and `--stages` runs the ones still missing in a call of their own);",
             "3. copy the returned `*.json` files into `bench/results/`;",
             "4. `python bench/report.py`, then commit the results files and BENCHMARKS.md.", "",
             "`python bench/gpu_check.py --smoke --out DIR` runs every stage at toy size on a CPU; the test suite "
             "runs it, so the script cannot rot between GPU sessions.", ""]
    r = load("gpu-check")
    if r is None:
        return lines + ["It has not run on a GPU yet.", ""]
    f = r["figures"]
    rows = [[name, s["status"], s.get("seconds", ""),
             ", ".join(f"{k} {s[k]}" for k in ("passed", "failures", "errors", "skipped") if k in s)]
            for name, s in f["stages"].items()]
    return lines + [f"Its last call on a GPU, {f['seconds']} s of its {f['budget_seconds']:.0f} s "
                    f"budget:", "", *table(["stage", "status", "seconds", "tests"], rows), "", r["notes"], "",
                    provenance(r), ""]


def score() -> list[str]:
    lines = ["## Reward scoring: `minir1 score` against TRL's math-verify `accuracy_reward`", ""]
    r = load("score_throughput")
    if r is None:
        return lines + not_measured("python bench/score_throughput.py")
    f = r["figures"]
    return lines + [*table(["", "completions/s", "seconds"], [
                        ["`minir1 score` (end to end, one process)", f["minir1_completions_per_second"],
                         f["minir1_score_seconds"]],
                        ["TRL `accuracy_reward` (in process)", f["trl_completions_per_second"],
                         f["trl_accuracy_reward_seconds"]]]),
                    "", f"{f['completions']:,} completions; minir1 is {f['speedup_vs_trl']}x faster. "
                    f"`minir1 --help` starts in {f['minir1_help_seconds']} s. {r['notes']}", "", provenance(r), ""]


def time_to_accuracy() -> list[str]:
    lines = ["## Time to accuracy", ""]
    gpu = load("grpo_step-gpu")
    s = gpu["figures"]["setups"].get("minir1", {}) if gpu else {}
    if "seconds_per_step" in s:
        hours = PROMPTS_TO_PLATEAU / 8 * s["seconds_per_step"] / 3600
        return lines + [f"From the measured GPU step time of the `minir1` setup ({s['seconds_per_step']:.2f} s for 8 "
                        f"prompts x 8 completions of {s['mean_completion_length']:.0f} tokens): "
                        f"{PROMPTS_TO_PLATEAU:,} prompts take about {hours:.1f} GPU-hours on this GPU, against the "
                        f"published runs' {PUBLISHED_GPU_HOURS}. Real completions are shorter than random weights' "
                        "near-full length, so this is an upper bound.", ""]
    from minir1.recipes import read_recipe

    memory, recipe = load("recipe_memory-mini-r1-gpu"), read_recipe("mini-r1")
    setting = f"mb{recipe['per_device_train_batch_size']}" + ("-ckpt" if recipe.get("activation_checkpointing") else "")
    run = memory["figures"]["runs"].get(setting, {}) if memory else {}
    if "seconds_per_step" in run:
        hours = PROMPTS_TO_PLATEAU / 8 * run["seconds_per_step"] / 3600
        real = load("real-grpo")
        steps = real["figures"].get("format_reward_90pct_step") if real else None
        fmt_line = (f" The format alone, learned by step {steps} in the real-model CPU run (\"A real model learns on a "
                    f"CPU\"), would take about {steps * run['seconds_per_step'] / 60:.0f} minutes at this step time "
                    "(that run's steps carry 8 completions, these 64: a rough estimate)."
                    if steps else "")
        others, gpu_name = len(memory["figures"]["runs"]) - 1, memory["machine"].get("gpu", "the GPU")
        return lines + [f"From the `mini-r1` recipe's own setting (`{setting}`) in the GPU memory table above: "
                        f"{run['seconds_per_step']:.1f} s per step of {run['completions_per_step']:.0f} completions "
                        f"forced to {run['max_completion_length']} tokens, measured while {others} other runs shared "
                        f"the GPU, so an upper bound. {PROMPTS_TO_PLATEAU:,} prompts (8 per step) then take at most "
                        f"about {hours:.0f} GPU-hours on an {gpu_name}, against the published runs' "
                        f"{PUBLISHED_GPU_HOURS}; real "
                        f"completions are shorter than random weights' full length.{fmt_line} The seeds-against-"
                        "minir1 step time on the GPU (`bench/grpo_step.py --gpu`) has not run to the end yet.", ""]
    return lines + [f"Not estimated: it needs the GPU step time (`python bench/grpo_step.py --gpu`), and no GPU was "
                    f"available when this was written. The estimate is {PROMPTS_TO_PLATEAU:,} prompts / 8 prompts "
                    "per step x the `minir1` setup's seconds per step, against the published runs' "
                    f"{PUBLISHED_GPU_HOURS} GPU-hours.", ""]


REAL_VARIANTS = {"think": "the `think` style's system prompt (the default where a recipe sets none)",
                 "prefill": "the same, the assistant turn opened with `<think>\\n`",
                 "example": "the same with one worked example (a GSM8K train problem) in the format: the `mini-r1` "
                            "recipe's prompt, chosen from this table",
                 "warmstart": "the `think` prompt after `minir1 warmstart` (LoRA, merged)"}


def _rate(x: dict) -> str:
    return f"{100 * x['rate']:.1f}% ({100 * x['ci_low']:.1f} - {100 * x['ci_high']:.1f})"


SEED_TABLE_HEADER = ("| run | seed | KL coefficient | reward scaling, gradient clip | format ok after | "
                     "strict after (points), McNemar | lenient after (points), McNemar | mean length after (tokens) |")


def scaling_and_clip(settings: dict) -> str:
    """A run's reward scaling and gradient clip as the tables name them, e.g. ``group, 0.2``; a clip of 0 is ``off``
    (the Trainer clips only above 0)."""
    clip = settings.get("max_grad_norm")
    return f"{settings.get('scale_rewards', TRL_SCALING)}, {'off' if clip == 0 else clip}"


def seed_row(name: str) -> str:
    """README's row for one run of the CPU recipe in its table of runs ("A real model learns on a CPU"), from the run's
    results file: its seed, KL coefficient, reward scaling and gradient clip, then format, strict and lenient accuracy
    after, as measured."""
    f = load(name)["figures"]
    h, st = f["held_out"], f.get("settings", {})
    after, before = h["after"], h["before"]

    def moved(k: str) -> str:
        return f"{100 * after[k]['rate']:.1f}% ({100 * (after[k]['rate'] - before[k]['rate']):+.1f})"

    return (f"| `{name}` | {st.get('seed', TRL_SEED)} | {st.get('beta') or 0} | "
            f"{scaling_and_clip(st)} | {100 * after['format']['rate']:.1f}% | "
            f"{moved('strict')}, p = {h['mcnemar_strict_p']:.2g} | {moved('lenient')}, p = {h['mcnemar_lenient_p']:.2g}"
            f" | {after['mean_length']:.0f} |")


def real_cold_start() -> list[str]:
    lines = ["## The cold start on a real model: format and accuracy before GRPO", ""]
    r = load("real-cold-start")
    if r is None:
        return lines + not_measured("python bench/real_cold_start.py")
    f = r["figures"]
    rows = [[f"`{name}`", REAL_VARIANTS.get(name, ""), v["n"], _rate(v["strict"]), _rate(v["lenient"]),
             _rate(v["format"]), v["mean_length"], f"{100 * v['truncation_rate']:.0f}%"]
            if v.get("n") else [f"`{name}`", REAL_VARIANTS.get(name, ""), 0, "not measured", "", "", "", ""]
            for name, v in f["variants"].items()]
    lines += [f"{f['model']} (the Coder variant, 4-bit and dequantized: not Qwen2.5-0.5B-Instruct), on the "
              f"GSM8K test problems every variant has done ({f['common_problems']} of the {f['limit']} asked for), "
              f"{f['decoding']}, at most {f['max_new_tokens']} new tokens, {f['dtype']}. Strict: the `<answer>` "
              "block holds the right number; lenient: the last number anywhere is right; format: the mini-r1 "
              "format rubric at full marks. 95% Wilson intervals in brackets." +
              (" `minir1 eval` generates the longest prompts first, so a partial row covers the longest-prompt "
               f"problems of the first {f['limit']}, not the first {f['common_problems']}."
               if f["common_problems"] < f["limit"] else ""), "",
              *table(["variant", "prompt", "problems", "strict", "lenient", "format ok", "mean tokens",
                      "truncated"], rows), ""]
    w = f.get("warmstart")
    if w and "seconds" in w:
        lines += [f"Warm start: {w['examples']} GSM8K train solutions in the tag format, {w['steps']} steps of "
                  f"{w['batch_size']} (LoRA, learning rate {w['learning_rate']}, merged), {w['seconds']:.0f} s with "
                  f"{w.get('torch_threads', '?')} torch thread(s) on a machine shared with other work: "
                  f"`{w['command']}`.", ""]
    lines += ["Each variant is one `minir1 eval` command (resumable: it finishes or reproduces the row):", ""]
    lines += [f"- `{name}`: `{v['command']}`" for name, v in f["variants"].items()]
    measured = [f"Measured by `{f['measured_by']}`; this file rewritten from the eval folders by:", ""] \
        if f.get("measured_by") else []
    return lines + ["", *measured, provenance(r), ""]


def real_eval_speed() -> list[str]:
    lines = ["## Evaluation speed on a CPU, real model", ""]
    r = load("real-eval-speed")
    if r is None:
        return lines + not_measured("python bench/real_eval_speed.py")
    lines += _eval_speed_table(r)
    sweep = load("real-eval-speed-sweep")
    if sweep is not None:
        lines += ["A shorter sweep of the other settings (batch sizes, a static KV cache, fewer threads), side by "
                  "side in one run:", "", *_eval_speed_table(sweep)]
    return lines


def _eval_speed_table(r: dict) -> list[str]:
    f = r["figures"]
    rows = [[name, s["threads"], s["tokens_per_second"], s["seconds"], s["generated_tokens"], s["strict_correct"],
             s.get("lenient_correct", "not counted"), s["format_ok"],
             f"{s['identical_completions_to_today']} / {f['problems']}",
             f"{s['verdicts_agreeing_with_today']} / {f['problems']}", s["load_average_before"]]
            for name, s in f["settings"].items()]
    bf16 = ", ".join(k for k, v in f["cpu_bf16"].items() if v) or "none"
    return [f"{f['model']}, the first {f['problems']} GSM8K test problems, `think` prompt, greedy to the "
            f"end of the turn, at most {f['max_new_tokens']} new tokens, prompts of "
            f"{f['mean_prompt_tokens']} tokens on average, torch's default {f['default_threads']} threads; this CPU's "
            f"bf16 instructions: {bf16}. Quickest: {f['quickest']}, {f['quickest_over_today_time']}x "
            "faster than today's settings (minir1 eval's defaults when this was measured) for the same problems.",
            "",
            *table(["setting", "threads", "generated tokens/s", "seconds", "tokens", "strict right",
                    "lenient right", "format ok", "identical to today", "verdicts as today", "load before"], rows),
            "", provenance(r), ""]


def demo_trials() -> list[str]:
    lines = ["## Demo tuning trials: what raises the arithmetic (lenient accuracy)", ""]
    files = sorted(RESULTS.glob("demo-trials*.json"), key=lambda p: (p.stem != "demo-trials", p.stem))
    found = [load(p.stem) for p in files if not p.stem.endswith("-quick")]
    if not found:
        return lines + not_measured("python bench/demo_trials.py")
    lines += ["`minir1 demo` with the settings each trial names changed (`bench/demo_trials.py` says what each "
              "trial is). "
              "Held-out greedy accuracy on the demo's 300 problems; lenient is the last number, format or not. "
              "McNemar p is exact and two-sided, paired against the evaluation before the trial's training. "
              "A `supervised` trial trains the demo trial's warm start further on gold solutions instead of "
              "GRPO: what a perfect teacher gives on that many prompts. The warm start depends on the torch thread "
              "count (float sums in another order), so trials compare within a table, not with the committed "
              "2-thread demo of README; seconds are wall time, and two trials may have shared the machine's "
              "cores (the load average says).", "",
              "Earlier trials, before `bench/demo_trials.py` recorded them (kept so nobody repeats them blind): "
              "learning rates of 2e-4 and above erased arithmetic the warm start had taught, the held-out answers "
              "collapsing onto a few frequent numbers, so the demo trains at 5e-5; 16 or 32 prompts per step, TRL's "
              "loss on the highest-entropy tokens only, per-reward normalisation and no std scaling did not raise "
              "held-out lenient accuracy; two-step problems and a model twice as wide did not warm-start to usable "
              "arithmetic within the demo's minutes. The format phase is not what erases the arithmetic: with every "
              "warm-start completion in the tag format (the `correctness-only` trials), GRPO at 5e-5 leaves lenient "
              "accuracy where it was and at 2e-4 lowers it, with or without a KL penalty. Plain answers that skip "
              "the working (the `direct-plain` trials) raised the arithmetic for seed 0 and not for seed 1, where "
              "the warm start's half-and-half format choice tipped the other way, so the demo's plain answers show "
              "their working.", ""]
    for r in found:
        rows = []
        for name, t in r["figures"].items():
            b, a = t["before"], t["after"]
            during = ", ".join(f"{e['step']}: {100 * e['lenient']:.0f}%"
                               for e in t.get("held_out_during_training", []))
            rows.append([f"`{name}`", t["what"], f"{100 * b['accuracy']:.1f}% -> {100 * a['accuracy']:.1f}%",
                         f"{100 * b['lenient_accuracy']:.1f}% -> {100 * a['lenient_accuracy']:.1f}%",
                         "{} / {}".format(*t["lenient_fixed_broken"]), f"{t['lenient_p']:.2g}",
                         during or "-", f"{t['seconds']:.0f}", t.get("torch_threads", "?")])
        lines += [*table(["trial", "what changes", "strict", "lenient", "lenient fixed / broken", "lenient p",
                          "lenient during training (first 100 held-out)", "seconds", "torch threads"], rows),
                  "", provenance(r), ""]
    return lines


def step_signal(r: dict) -> list[str]:
    """Where each run's steps got their signal (bench/step_signal.py), under the runs at a glance."""
    f = r["figures"]
    late = f["after_step"]
    rows = [[f"`{name}`", scaling_and_clip(x), x["steps"], x["steps_with_spread"],
             x["clipped_with_spread"], x["smallest_grad_norm_with_spread"], x["clipped_without_spread"],
             x["late_answer_spread"], x["late_format_spread_only"],
             *("-" if x[k] is None else x[k] for k in ("late_answer_grad_norm_applied",
                                                       "late_format_only_grad_norm_applied"))]
            for name, x in f["runs"].items()]
    return ["Where the steps' signal came from: with one prompt per step, a step's advantages are zero unless its "
            "group's rewards differ (TRL's `frac_reward_zero_std` below 1), and then only the KL term moves the "
            "adapter; `grad_norm` is logged before clipping "
            f"at `max_grad_norm`. After step {late}, once the format is learned, a step's spread comes either from "
            "the answer reward (a right answer among wrong ones) or from the format alone:", "",
            *table(["run", "reward scaling, gradient clip", "steps", "steps with spread", "of them clipped",
                    "smallest grad norm with spread", "clipped without spread", f"after step {late}: answer spread",
                    f"after step {late}: format spread only", "their mean grad norm after clipping: answer",
                    "format only"], rows),
            "", provenance(r), ""]


def real_grpo() -> list[str]:
    from minir1.recipes import read_recipe
    from minir1.rewards import CORRECTNESS, DEFAULT_SCHEME, SCHEMES

    seed_rewards = SCHEMES[DEFAULT_SCHEME]["rewards"]  # the Mini-R1 seed's: format_rubric 13 + correctness 10
    recipe = read_recipe("mini-r1-cpu")  # a run's settings are named where they differ from the recipe's today
    lines = ["## A real model learns on a CPU: GRPO with the `mini-r1-cpu` recipe", ""]
    names = sorted((p.stem for p in RESULTS.glob("real-grpo*.json") if not p.stem.startswith("real-grpo-speed")),
                   key=lambda n: (n != "real-grpo", n))  # the current recipe's run first, then earlier ones
    if not names:
        return lines + not_measured("python bench/real_grpo.py --output_dir runs/real-grpo")
    lines += ["Every run at a glance (held-out strict and lenient accuracy before -> after, in points; each run's "
              "own section below has its settings, intervals and plot):", ""]
    results = {name: load(name) for name in names}
    rows = []
    for name, r in results.items():
        f = r["figures"]
        h = f["held_out"]
        moved = {k: f"{100 * h['before'][k]['rate']:.1f} -> {100 * h['after'][k]['rate']:.1f} "
                    f"({100 * (h['after'][k]['rate'] - h['before'][k]['rate']):+.1f})" for k in ("strict", "lenient")}
        # runs recorded before results kept their rewards all ran the recipe's scheme: format_rubric + correctness
        st = f.get("settings", {})
        answer = [n for n in st.get("rewards") or ["correctness"] if n in CORRECTNESS]
        rows.append([f"`{name}`", r["machine"].get("cpu", "?"), ", ".join(f"`{n}`" for n in answer),
                     st.get("beta") or 0, scaling_and_clip(st),
                     st.get("seed", TRL_SEED), f["steps"],
                     f.get("format_reward_90pct_step") or "never",
                     f"{100 * h['after']['format']['rate']:.1f}%", moved["strict"], f"{h['mcnemar_strict_p']:.2g}",
                     moved["lenient"], f"{h['mcnemar_lenient_p']:.2g}"])
    lines += [*table(["run", "CPU", "answer reward", "KL coefficient", "reward scaling, gradient clip", "seed",
                      "steps", "format at 90% by step",
                      "format ok after", "strict", "strict p", "lenient", "lenient p"], rows), ""]
    if signal := load("grpo-step-signal"):
        lines += step_signal(signal)
    for name, r in results.items():
        f, h = r["figures"], r["figures"]["held_out"]
        st = f.get("settings", {})
        shape = (f"lr {st.get('learning_rate')}, at most {st.get('max_completion_length')} new tokens, micro-batches of "
                 f"{st.get('per_device_train_batch_size')} x {st.get('gradient_accumulation_steps')}, sampling "
                 f"temperature {st.get('temperature')}"
                 + (f", KL coefficient {st['beta']}" if st.get("beta") else ", no KL term")
                 + (", truncated completions masked" if st.get("mask_truncated_completions") else "")
                 + (f", rewards scaled per `{st['scale_rewards']}`" if st.get("scale_rewards", TRL_SCALING) != TRL_SCALING
                    else "")
                 + ((", gradient norm not clipped" if st["max_grad_norm"] == 0 else
                     f", gradient norm clipped at {st['max_grad_norm']}")
                    if st.get("max_grad_norm") not in (None, recipe.get("max_grad_norm")) else "")
                 + (", truncated completions unscored (`score_truncated: false`)"
                    if st.get("score_truncated") is False else "")
                 + (", rewarded by " + " + ".join(f"`{n}` ({w:g})" for n, w in paid.items())
                    if (paid := dict(zip(st.get("rewards") or [], st.get("reward_weights") or [], strict=True)))
                    and paid != seed_rewards else "")
                 + (f", seed {st['seed']}" if st.get("seed") not in (None, TRL_SEED) else "")
                 + (f", trained on the problems whose solution has at most {st['max_solution_steps']} steps"
                    if st.get("max_solution_steps") else ""))
        rows = [[when, s["n"] if "n" in s else h["n"], _rate(s["format"]), _rate(s["strict"]), _rate(s["lenient"]),
                 fmt(s.get("mean_length"), ".1f"), f"{100 * s['truncation_rate']:.1f}%"]
                for when, s in (("before GRPO", h["before"]), (f"after {f['steps']} GRPO steps", h["after"]))]
        lines += [f"### `{name}.json`: {shape}", "",
                  f"{f['model']}, GRPO from the cold start with the `{f['recipe']}` recipe of its day ({shape}): "
                  f"{f['steps']} steps in {f['train_seconds'] / 60:.0f} minutes of training ({f['seconds_per_step']} s "
                  f"per step). Held-out: the first {h['n']} GSM8K test problems, {h['prompt']}, {h['decoding']}, at "
                  f"most {h['max_new_tokens']} new tokens, the same command before and after; 95% Wilson intervals.",
                  "", *table(["held-out", "problems", "format ok", "strict", "lenient", "mean length", "truncated"],
                             rows),
                  "", f"McNemar's exact test: strict p = {h['mcnemar_strict_p']:.2g} ({h['strict_fixed']} problems "
                  f"wrong -> right, {h['strict_broken']} right -> wrong); lenient p = {h['mcnemar_lenient_p']:.2g} "
                  f"({h['lenient_fixed']} and {h['lenient_broken']}). " + (
                      f"The format reward first reached 90% of its maximum (averaged over 5 steps) at step "
                      f"{f['format_reward_90pct_step']}." if f["format_reward_90pct_step"] is not None else
                      "The format reward never reached 90% of its maximum (averaged over 5 steps)."), "",
                  f"![reward curve]({f['plot']})", "", provenance(r), ""]
    return lines


def real_grpo_speed() -> list[str]:
    lines = ["## GRPO step cost on a real model on a CPU", ""]
    files = sorted(RESULTS.glob("real-grpo-speed*.json"))
    if not files:
        return lines + not_measured("python bench/real_grpo_speed.py")
    for path in files:
        r = load(path.stem)
        f = r["figures"]
        rows = []
        for name, s in f["setups"].items():
            settings = ", ".join(f"{k}={v}" for k, v in s["settings"].items())
            if "seconds_per_step" not in s:
                rows.append([f"`{name}`", settings, "failed: " + s["runs"][-1].get("error", ""), "", "", "", ""])
                continue
            phases = ", ".join(f"{k} {v}" for k, v in s["seconds_per_step_by_phase"].items())
            rows.append([f"`{name}`", settings, f"{s['seconds_per_step']:.1f}", f"{s['generated_tokens_per_second']:.1f}",
                         phases, s["peak_cpu_memory_gb"],
                         f"{f['speedup_vs_before'][name]}x" if name in f.get("speedup_vs_before", {}) else ""])
        lines += [f"{f['model']}. Work per step: {f['work_per_step']}; {f['timed_steps_per_run']} timed step(s) "
                  f"per run after a warm-up step, {f['rounds']} round(s) in the order {', '.join(f['order'])}.", "",
                  *table(["setup", "settings", "s/step", "generated tokens/s", "seconds per step by phase",
                          "peak memory (GB)", "speed vs before"], rows), "", provenance(r), ""]
    return lines


def lora_sampling() -> list[str]:
    lines = ["## Sampling with a LoRA adapter on a CPU: the cost of peft's unmerged layers", ""]
    r = load("lora_sampling")
    if r is None:
        return lines + not_measured("python bench/lora_sampling.py")
    f = r["figures"]
    rows = [[f"`{name}`", tps] for name, tps in f["tokens_per_second"].items()]
    return lines + [
        f"{f['model']}. One GSM8K train prompt (the think chat prompt, {f['prompt_tokens']} tokens) sampled "
        f"{f['rows']} times at temperature 1, forced to {f['new_tokens']} new tokens: one GRPO group of the "
        f"`mini-r1-cpu` recipe, as TRL's transformers path samples it, each model with the contiguous-input hook "
        f"minir1 puts on the output layer of every model it trains or evaluates. Median of {f['rounds']} rounds in "
        "alternating order after a warm-up.", "",
        *table(["setup", "generated tokens/s"], rows), "",
        f"Within a round, sampling with the unmerged adapter took {f['lora_over_plain_time']}x the plain model's "
        f"time, and with the adapter merged but peft's layers in place {f['merged_over_plain_time']}x.", "",
        provenance(r), ""]


def cpu_ceiling() -> list[str]:
    lines = ["## How far a real-model step is from its matrix products alone", ""]
    r = load("cpu-ceiling")
    if r is None:
        return lines + not_measured("python bench/cpu_ceiling.py")
    f = r["figures"]
    rows = [[name, f"{p['flop'] / 1e12:.2f}", f"{p['gflop_per_second']:.0f}", p["floor_seconds"],
             p.get("measured_seconds", ""), f"{p['measured_over_floor']}x" if "measured_over_floor" in p else ""]
            for name, p in f["phases"].items()]
    against, head = f.get("against", {}), f["trl_output_layer_seconds_per_step"]
    return lines + [
        f"{f['model']}: only the linear layers' matrix products (attention scores and LoRA adapters not counted) of "
        f"one GRPO step's work ({f['rows']} completions of a "
        f"{f['prompt_tokens']}-token prompt, {f['completion_tokens']} tokens each on average, in "
        f"{f['micro_batches']} micro-batches), {f['torch_threads']} threads, each the quickest of its repeats: "
        f"about a floor for each phase, set beside the phase as `{against.get('file')}` measured it for "
        f"`{against.get('setup')}` (bench/cpu_ceiling.py's docstring says what is counted).", "",
        *table(["phase", "TFLOP", "GFLOP/s", "floor (s)", "measured (s)", "measured / floor"], rows), "",
        f"Floor for the whole step {f.get('step_floor_seconds')} s, measured {f.get('step_measured_seconds')} s; "
        "the measured backward also holds the optimizer step and the rest of the step. On a CPU, TRL scores the "
        "output layer at every position, the prompt's included: its output layer and log-softmax, forward and "
        f"backward, took {head['every_position']} s per step at every position, against "
        f"{head['completion_positions']} s at the completion positions alone.", "", provenance(r), ""]


# In the order they appear in BENCHMARKS.md.
SECTIONS: list[Callable[[], list[str]]] = [header, grpo_step, rollout, generation, processes, recipe_step, score,
                                           time_to_accuracy, real_cold_start, real_eval_speed, real_grpo,
                                           real_grpo_speed, lora_sampling, cpu_ceiling, demo_trials, gpu_check]


def render() -> str:
    return "\n".join(line for section in SECTIONS for line in section())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT, help="where to write (default: BENCHMARKS.md)")
    out = ap.parse_args().out
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
