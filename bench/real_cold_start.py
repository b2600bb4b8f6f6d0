"""The cold start on a real model: how often it writes the tag format, and how often it is right, before GRPO.

Model: Qwen2.5-Coder-0.5B-Instruct (its Q4_K_M GGUF dequantized to bf16, built by
``bench/real_model.py``), not Qwen2.5-0.5B-Instruct: every figure is labelled so.
Four variants on the same first GSM8K test problems, greedy, generated to the end of
the turn and judged whole (``minir1 eval``'s defaults):

* ``think``: the ``think`` tag style's system prompt (today's default);
* ``prefill``: the same prompt, the assistant turn opened with ``<think>\\n``;
* ``example``: the system prompt followed by one worked example (a GSM8K *train*
  problem) in exactly the prompted format;
* ``warmstart``: the ``think`` prompt on the model after ``minir1 warmstart`` (LoRA,
  merged) on GSM8K train solutions rewritten in the tag format.

Every variant is one ``minir1 eval`` command (printed, and stored in the results
file); this script runs exactly those evaluations in one process, one batch of each
variant in turn, so that whenever it stops every variant has the same problems done.
Its batches are the ones the command itself would generate (same sort, same batch
size), and the folders are ordinary, resumable eval folders: running the printed
command finishes or reproduces a variant. The results file is rewritten after every
round with each variant's figures on the problems all variants have done.

    python bench/real_cold_start.py                      # 200 problems x 4 variants (long on a CPU)
    python bench/real_cold_start.py --deadline 16:05     # stop starting new batches at 16:05 (local time)
    python bench/real_cold_start.py --variants think,prefill --limit 32
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import shlex
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PREFILL = "<think>\n"
EXAMPLE_PROBLEM = 0  # the GSM8K train problem shown as the worked example (never a test problem)


def example_system_prompt() -> str:
    """The ``think`` system prompt followed by one worked GSM8K train problem in the exact format."""
    from minir1.data import load_problems
    from minir1.prompts import with_worked_example

    return with_worked_example(load_problems("gsm8k:train", limit=EXAMPLE_PROBLEM + 1)[EXAMPLE_PROBLEM])


def variants(base: str, warm: str) -> dict[str, dict]:
    """Each variant's model and the eval options that differ from the defaults."""
    return {"think": {"model": base, "options": {}},
            "prefill": {"model": base, "options": {"prefill": PREFILL}},
            "example": {"model": base, "options": {"system_prompt": example_system_prompt()}},
            "warmstart": {"model": warm, "options": {}}}


def eval_command(model: str, out: Path, args, options: dict) -> list[str]:
    cmd = ["minir1", "eval", "--model", str(model), "--limit", str(args.limit), "--max_new_tokens",
           str(args.max_new_tokens), "--dtype", args.dtype, "--batch_size", str(args.batch_size),
           "--output_dir", str(out)]
    for key, value in options.items():
        cmd += [f"--{key}", value]
    return cmd


def shell(cmd: list[str], base: str | None = None) -> str:
    """The command as a user pastes it into bash (``$'...'`` for text with newlines).

    The real model's folder is shown as the command that prints it, and paths inside the
    repository relative to it, so that the command runs on any machine from the repository root.
    """
    def quote(a: str) -> str:
        if base and a == base:
            return '"$(python bench/real_model.py)"'
        if a.startswith(str(ROOT) + "/"):
            a = a[len(str(ROOT)) + 1:]
        if "\n" in a:
            return "$'" + a.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
        return shlex.quote(a)
    return " ".join(quote(a) for a in cmd)


def one_batch(generator, tokenizer, batch_size: int):
    """A generator that does only the first batch ``generate`` would do of the prompts it is given.

    ``minir1.generation.generate_tokens`` sorts prompts by token length (longest first,
    stable) and cuts batches in that order; taking the first ``batch_size`` of that order
    and generating them as one batch reproduces the command's first batch exactly.
    """
    from minir1.generation import encode_chat

    def run(prompts, *, on_batch, **kwargs):
        lengths = [len(encode_chat(tokenizer, p)) for p in prompts]
        chosen = sorted(range(len(prompts)), key=lambda i: -lengths[i])[:batch_size]
        return generator([prompts[i] for i in chosen], on_batch=lambda idx, gens: on_batch(
            [chosen[i] for i in idx], gens), batch_size=batch_size, **{k: v for k, v in kwargs.items()
                                                                         if k != "batch_size"})

    return run


def rates(records: list[dict]) -> dict:
    """Strict, lenient and format rates, each with its 95% Wilson interval, and length figures."""
    from minir1.evaluate import summarize
    from minir1.stats import wilson

    s = summarize(records)
    n = s["n"]
    out = {"n": n}
    for name, key in (("strict", "correct"), ("lenient", "lenient_correct"), ("format", "format_ok")):
        k = sum(bool(r[key]) for r in records)
        low, high = wilson(k, n)
        out[name] = {"rate": round(k / n, 4) if n else 0.0, "ci_low": round(low, 4), "ci_high": round(high, 4),
                     "count": k}
    out.update(mean_length=round(s["mean_length"], 1), truncation_rate=round(s["truncation_rate"], 4))
    return out


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def warm_start(base: str, out: Path, args) -> dict:
    """``minir1 warmstart`` as a subprocess (its own command line), timed."""
    cmd = [sys.executable, "-m", "minir1", "warmstart", "--model", base, "--data", "gsm8k:train", "--limit",
           str(args.warmstart_examples), "--lora", "--learning_rate", str(args.warmstart_lr), "--batch_size",
           str(args.warmstart_batch_size), "--epochs", "1", "--output_dir", str(out)]
    shown = shell(["minir1", *cmd[3:]], base)
    info = out / "warmstart.json"  # what training took, kept beside the model it made
    if (out / "config.json").is_file():
        return json.loads(info.read_text()) if info.is_file() else {"command": shown, "reused": True}
    print(f"warm start: {shown}", flush=True)
    t = time.perf_counter()
    env = {**os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})}
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    done = {"command": shown, "seconds": round(time.perf_counter() - t, 1), "examples": args.warmstart_examples,
            "steps": math.ceil(args.warmstart_examples / args.warmstart_batch_size), "lora": True,
            "learning_rate": args.warmstart_lr, "batch_size": args.warmstart_batch_size, "epochs": 1,
            "torch_threads": args.threads or torch_threads()}
    info.write_text(json.dumps(done, indent=2) + "\n")
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=200, help="the first N GSM8K test problems")
    ap.add_argument("--max_new_tokens", type=int, default=384)
    ap.add_argument("--batch_size", type=int, default=64)
    ap.add_argument("--dtype", default="bfloat16", help="the model's own dtype (what --dtype auto gives on a GPU)")
    ap.add_argument("--variants", default="think,prefill,example,warmstart")
    # the warm start measured in BENCHMARKS.md: 32 GSM8K train solutions, 8 LoRA steps
    ap.add_argument("--warmstart_examples", type=int, default=32)
    ap.add_argument("--warmstart_lr", type=float, default=5e-4)
    ap.add_argument("--warmstart_batch_size", type=int, default=4)
    ap.add_argument("--warmstart_after", type=int, default=1,
                    help="rounds of the other variants before the warm start is trained")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "real-cold-start", help="eval folders go here")
    ap.add_argument("--deadline", help="HH:MM local time: start no batch after it")
    ap.add_argument("--summarize", action="store_true",
                    help="generate nothing: rewrite the results file from the eval folders (after a run was "
                         "extended by its printed commands), keeping the command that measured them")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice, one per core); on a "
                                                "busy shared machine 1 is faster (bench/real_eval_speed.py)")
    args = ap.parse_args()

    from real_model import NAME, real_model_dir

    from minir1.evaluate import EvalSettings, read_samples, run_eval
    from minir1.generation import generate
    from minir1.models import ModelSpec, load_for_inference

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    deadline = None
    if args.deadline:
        hh, mm = map(int, args.deadline.split(":"))
        deadline = _dt.datetime.now().replace(hour=hh, minute=mm, second=0, microsecond=0)
    base = str(real_model_dir())
    warm_dir = args.runs / "warmstart-model"
    chosen = args.variants.split(",")
    table = variants(base, str(warm_dir))
    unknown = set(chosen) - set(table)
    if unknown:
        raise SystemExit(f"unknown variants {sorted(unknown)}: choose from {', '.join(table)}")
    loaded: dict[str, tuple] = {}
    warm_info: dict = {}
    commands = {name: shell(eval_command(table[name]["model"], args.runs / name, args, table[name]["options"]), base)
                for name in chosen}
    for name in chosen:
        print(f"{name}: {commands[name]}", flush=True)

    def settings_of(name: str):
        v = table[name]
        return EvalSettings(v["model"], data="gsm8k:test", limit=args.limit, max_new_tokens=args.max_new_tokens,
                            dtype=args.dtype, **v["options"]).resolve()

    def write() -> None:
        done = {name: {r["id"]: r for r in read_samples(args.runs / name / "samples.jsonl")}
                for name in chosen if (args.runs / name / "samples.jsonl").is_file()}
        common = set.intersection(*(set(d) for d in done.values())) if done else set()
        figures = {"model": NAME, "data": "gsm8k:test", "torch_threads": torch_threads(), "limit": args.limit, "max_new_tokens": args.max_new_tokens,
                   "dtype": args.dtype, "batch_size": args.batch_size, "decoding": "greedy, to the end of the turn",
                   "common_problems": len(common), "variants": {}}
        for name in chosen:
            records = [r for r in done.get(name, {}).values() if r["id"] in common]
            figures["variants"][name] = {"command": commands[name], "done": len(done.get(name, {})),
                                         **(rates(records) if records else {"n": 0})}
        if warm_info:
            figures["warmstart"] = warm_info
        if measured_by:
            figures["measured_by"] = measured_by
        record("real-cold-start", figures, notes="figures are over the problems every variant has done "
               "(common_problems); each variant's eval folder holds its own samples.jsonl")

    measured_by = None
    if args.summarize:
        from common import RESULTS

        old = json.loads((RESULTS / "real-cold-start.json").read_text())
        measured_by = old["figures"].get("measured_by") or old["command"]
        info = warm_dir / "warmstart.json"
        warm_info.update(json.loads(info.read_text()) if info.is_file() else old["figures"].get("warmstart", {}))
        if "command" in warm_info and str(ROOT) in warm_info["command"]:
            warm_info["command"] = warm_info["command"].replace(base, '"$(python bench/real_model.py)"').replace(
                str(ROOT) + "/", "")
        write()
        return
    rounds = 0
    while True:
        remaining = {}
        for name in chosen:
            if name == "warmstart" and rounds < args.warmstart_after and len(chosen) > 1:
                continue
            if deadline and _dt.datetime.now() >= deadline:
                break
            if name == "warmstart" and not warm_info:
                warm_info = warm_start(base, warm_dir, args)
            settings = settings_of(name)
            if settings.model not in loaded:
                loaded[settings.model] = load_for_inference(ModelSpec(settings.model), args.dtype)
            model, tokenizer = loaded[settings.model]
            gen = one_batch(partial(generate, model, tokenizer), tokenizer, args.batch_size)
            try:
                run_eval(settings, args.runs / name, batch_size=args.batch_size, generator=gen, progress=False)
                remaining[name] = 0
            except RuntimeError as e:  # the batch is saved; the rest of the problems are for later rounds
                if "got no completion" not in str(e):
                    raise
                remaining[name] = int(str(e).split()[0])
            print(f"round {rounds}: {name} has {remaining[name]} problems left", flush=True)
        rounds += 1
        write()
        if (deadline and _dt.datetime.now() >= deadline) or (remaining and not any(remaining.values())
                                                             and len(remaining) == len(chosen)):
            break


if __name__ == "__main__":
    main()
