"""Write BENCHMARKS.md from bench/results/*.json: every figure with its machine, command and date.

    python bench/report.py

Quick-mode results (written by the test suite's smoke runs elsewhere) are never
read. The time-to-accuracy estimate is computed from a GPU step-time
measurement when ``grpo_step-gpu.json`` exists, and says so when it does not.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"
OUT = HERE.parent / "BENCHMARKS.md"
PROMPTS_TO_PLATEAU = 40_000  # prompts the published single-GPU GSM8K runs needed to plateau (issue #5)
PUBLISHED_GPU_HOURS = 8  # the published PPO run on one GPU


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def provenance(r: dict) -> str:
    m = r["machine"]
    where = m.get("gpu") or f"{m.get('cpu', 'CPU')}, {m.get('cores')} cores, {m.get('memory_gb')} GB"
    libs = ", ".join(f"{k} {m[k]}" for k in ("torch", "transformers", "trl", "peft", "vllm") if k in m)
    return f"*{r['date']} on {where} ({libs}); command: `{r['command']}`*"


def table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def grpo_section(r: dict | None, title: str) -> list[str]:
    if r is None:
        return [f"### {title}", "", "Not measured yet.", ""]
    f = r["figures"]
    speed = f.get("speedup_vs_seeds", {})
    rows = []
    for name, s in f["setups"].items():
        if "error" in s:
            rows.append([f"`{name}`", "failed: " + s["error"], "", "", "", ""])
            continue
        settings = ", ".join(f"{k}={v}" for k, v in s["settings"].items())
        memory = s.get("peak_gpu_memory_gb") or s.get("peak_cpu_memory_gb")
        rows.append([f"`{name}`", settings, f"{s['seconds_per_step']:.2f}", f"{s['generated_tokens_per_second']:.0f}",
                     f"{speed.get(name, '')}x", memory])
    return [f"### {title}", "", f"Work per optimizer step: {f['work_per_step']}.", "",
            *table(["setup", "settings", "s/step", "generated tokens/s", "speed vs seeds", "peak memory (GB)"], rows),
            "", provenance(r), ""]


def main() -> None:
    lines = ["# Benchmarks", "",
             "Every figure here was measured by a script in `bench/` and is written into this file by "
             "`python bench/report.py` from `bench/results/*.json`, with the machine, command and date it came "
             "from. Comparisons are ratios measured side by side in one run. Regenerate everything that runs on "
             "a CPU with `make bench`.", ""]

    lines += ["## GRPO step throughput: the seeds' setup against minir1's defaults", "",
              "Same prompts, same completions per step, same lengths (random weights never stop early). `seeds` runs "
              "TRL as the Mini-R1 seed's recipe does: one completion per micro-batch with gradient accumulation, "
              "gradient checkpointing, LoRA rank 16 / alpha 32 with dropout 0.05. `minir1` is this project's "
              "defaults: micro-batches of 16, no checkpointing, no LoRA dropout. The other rows change one thing "
              "each (see `bench/grpo_step.py`).", ""]
    lines += grpo_section(load("grpo_step-cpu"), "CPU: the demo-sized tiny model (4 layers, hidden 128)")
    gpu = load("grpo_step-gpu")
    lines += grpo_section(gpu, "GPU: Qwen2.5-0.5B-Instruct's architecture, random weights")
    if gpu is None:
        lines += ["No GPU was available when this was written: run `python bench/grpo_step.py --gpu` on one, then "
                  "`python bench/report.py`.", ""]

    lines += ["## Rollout throughput per generation backend", ""]
    for mode, title in (("cpu", "CPU, demo-sized tiny model"), ("gpu", "GPU, Qwen2.5-0.5B architecture")):
        r = load(f"rollout_throughput-{mode}")
        if r is None:
            lines += [f"### {title}", "", "Not measured yet.", ""]
            continue
        f = r["figures"]
        ratio = f["ratio_to_transformers_generate"]
        rows = [[k, v, f"{ratio[k]}x" if k in ratio else ""] for k, v in f["tokens_per_second"].items()]
        lines += [f"### {title}", "", f"Rollout: {f['rollout']}.", "",
                  *table(["backend", "generated tokens/s", "vs transformers generate"], rows), "", provenance(r), ""]

    r = load("generation_throughput")
    if r is not None:
        f = r["figures"]
        rows = [[k, v] for k, v in f["tokens_per_second"].items()]
        lines += ["## Evaluation generation (greedy, `minir1 eval`'s backend)", "",
                  f"{f['max_new_tokens']} new tokens forced, prompts of {f['mean_prompt_tokens']} tokens on average, "
                  f"torch threads {f['torch_threads']}. Fastest over naive (one prompt at a time): "
                  f"{f['fastest_over_naive']}x; eval's default over naive: {f['default_over_naive']}x.", "",
                  *table(["setting", "tokens/s"], rows), "", provenance(r), ""]

    r = load("processes-cpu")
    if r is not None:
        f = r["figures"]
        rows = [[f[k]["processes"], f[k]["threads_per_process"], f"{f[k]['seconds_per_step']:.2f}"]
                for k in ("one_process", "two_processes")]
        lines += ["## One process against two (torchrun, gloo, CPU)", "", f"Work per step: {f['work_per_step']}.", "",
                  *table(["processes", "threads each", "s/step"], rows), "",
                  f"Two processes take {f['two_over_one_time']}x the time of one per step.", "", provenance(r), ""]

    for mode, title in (("cpu", "the `tiny` recipe on a CPU"), ("gpu", "the `mini-r1` recipe on a GPU")):
        recipe = "tiny" if mode == "cpu" else "mini-r1"
        r = load(f"recipe_step-{recipe}-{mode}")
        lines += [f"## Step time of {title}", ""]
        if r is None:
            lines += ["Not measured yet" + (" (no GPU was available): `python bench/recipe_step.py --recipe mini-r1 "
                                            "--gpu`." if mode == "gpu" else "."), ""]
            continue
        f = r["figures"]
        memory = f"{f['peak_gpu_memory_gb']} GB GPU" if f.get("peak_gpu_memory_gb") else f"{f['peak_cpu_memory_gb']} GB"
        lines += [f"{f['seconds_per_step']} s per step, {f['generated_tokens_per_second']} generated tokens/s, peak "
                  f"memory {memory}, over {f['steps']} steps on {f['model']}.", "", provenance(r), ""]

    r = load("score_throughput")
    if r is not None:
        f = r["figures"]
        lines += ["## Reward scoring: `minir1 score` against TRL's math-verify `accuracy_reward`", "",
                  *table(["", "completions/s", "seconds"], [
                      ["`minir1 score` (end to end, one process)", f["minir1_completions_per_second"],
                       f["minir1_score_seconds"]],
                      ["TRL `accuracy_reward` (in process)", f["trl_completions_per_second"],
                       f["trl_accuracy_reward_seconds"]]]),
                  "", f"{f['completions']:,} completions; minir1 is {f['speedup_vs_trl']}x faster. "
                  f"`minir1 --help` starts in {f['minir1_help_seconds']} s. {r['notes']}", "", provenance(r), ""]

    lines += ["## Time to accuracy", ""]
    if gpu is not None and "minir1" in gpu["figures"]["setups"]:
        s = gpu["figures"]["setups"]["minir1"]
        hours = PROMPTS_TO_PLATEAU / 8 * s["seconds_per_step"] / 3600
        lines += [f"From the measured GPU step time of the `minir1` setup ({s['seconds_per_step']:.2f} s for 8 prompts "
                  f"x 8 completions of {s['mean_completion_length']:.0f} tokens): {PROMPTS_TO_PLATEAU:,} prompts take "
                  f"about {hours:.1f} GPU-hours on this GPU, against the published runs' {PUBLISHED_GPU_HOURS}. "
                  "Real completions are shorter than the forced full length, so this is an upper bound.", ""]
    else:
        lines += [f"Not estimated: it needs the GPU step time (`python bench/grpo_step.py --gpu`), and no GPU was "
                  f"available when this was written. The estimate is {PROMPTS_TO_PLATEAU:,} prompts / 8 prompts per "
                  "step x the `minir1` setup's seconds per step, against the published runs' "
                  f"{PUBLISHED_GPU_HOURS} GPU-hours.", ""]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
