"""Evaluation speed on a CPU for a real 0.5B model: today's settings against candidates, side by side.

Model: Qwen2.5-Coder-0.5B-Instruct (its Q4_K_M GGUF dequantized to bf16, built by
``bench/real_model.py``), not Qwen2.5-0.5B-Instruct. Every setting generates for the
same first GSM8K test problems with the ``think`` prompt, greedy, to the end of the
turn (``minir1 eval``'s defaults) through :func:`minir1.generation.generate`, the code
``minir1 eval`` runs; only the dtype, the batch size, the KV cache and
the number of torch threads change. Rows
that finish early keep occupying their batch until its longest row ends, so the batch
size trades the work a step shares against the work finished rows waste: only a
measurement on real completions (not forced lengths) shows where that lands.

Reported per setting: generated tokens/s, seconds for the problems (what a user
waits), and, against today's setting, how many completions are identical and how many
verdicts (strict, format) agree: bf16 changes the arithmetic, so greedy outputs may differ.

    python bench/real_eval_speed.py                                  # 32 problems, 256 new tokens
    python bench/real_eval_speed.py --limit 8 --max_new_tokens 128   # minutes on a busy machine
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402

# (name, dtype, batch size, cache, torch threads or None for torch's default: one per core); the first is
# what minir1 eval did before this benchmark
SETTINGS = [
    ("today: float32, batch 32", "float32", 32, None, None),
    ("bfloat16, batch 32", "bfloat16", 32, None, None),
    ("bfloat16, batch 8", "bfloat16", 8, None, None),
    ("bfloat16, batch 8, 1 thread", "bfloat16", 8, None, 1),
    ("bfloat16, batch 4, 1 thread", "bfloat16", 4, None, 1),
    ("bfloat16, batch 16, 1 thread", "bfloat16", 16, None, 1),
    ("bfloat16, batch 8, static cache, 1 thread", "bfloat16", 8, "static", 1),
    ("float32, batch 8, 1 thread", "float32", 8, None, 1),
    ("bfloat16, batch 16", "bfloat16", 16, None, None),
    ("bfloat16, batch 64", "bfloat16", 64, None, None),
    ("float32, batch 16", "float32", 16, None, None),
    ("bfloat16, batch 16, static cache", "bfloat16", 16, "static", None),
    ("bfloat16, batch 64, static cache", "bfloat16", 64, "static", None),
    ("bfloat16, batch 64, 1 thread", "bfloat16", 64, None, 1),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=32, help="the first N GSM8K test problems")
    ap.add_argument("--max_new_tokens", type=int, default=256)
    ap.add_argument("--settings", help="comma-separated setting numbers (0 = today's, always run), default all")
    ap.add_argument("--name", default="real-eval-speed",
                    help="results file name: a short sweep gets its own (real-eval-speed-sweep) beside the full run")
    args = ap.parse_args()

    import torch
    from real_model import NAME, real_model_dir
    from transformers import AutoModelForCausalLM

    from minir1.data import load_problems
    from minir1.evaluate import verdict
    from minir1.generation import encode_chat, generate
    from minir1.models import load_tokenizer
    from minir1.prompts import build_prompt

    path = real_model_dir()
    chosen = [SETTINGS[0]] + [SETTINGS[int(i)] for i in (args.settings or "").split(",") if i and int(i) != 0] \
        if args.settings else SETTINGS
    tokenizer = load_tokenizer(str(path))
    problems = load_problems("gsm8k:test", limit=args.limit)
    prompts = [build_prompt(p.question) for p in problems]
    models = {}
    results, texts = {}, {}
    default_threads = torch.get_num_threads()
    for name, dtype, batch, cache, threads in chosen:
        torch.set_num_threads(threads or default_threads)
        if dtype not in models:
            models[dtype] = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).eval()
        model = models[dtype]
        generate(model, tokenizer, prompts[:1], max_new_tokens=2, batch_size=1, cache=cache)  # warm-up
        load = os.getloadavg()[0]
        t = time.perf_counter()
        gens = generate(model, tokenizer, prompts, max_new_tokens=args.max_new_tokens, batch_size=batch, cache=cache)
        seconds = time.perf_counter() - t
        tokens = sum(g[0].tokens for g in gens)
        texts[name] = [g[0].text for g in gens]
        verdicts = [verdict(g[0].text, p, "think") for g, p in zip(gens, problems, strict=True)]
        results[name] = {"dtype": dtype, "batch_size": batch, "cache": cache or "dynamic",
                         "threads": threads or default_threads,
                         "tokens_per_second": round(tokens / seconds, 2), "seconds": round(seconds, 1),
                         "generated_tokens": tokens, "load_average_before": round(load, 2),
                         "strict_correct": sum(v["correct"] for v in verdicts),
                         "lenient_correct": sum(v["lenient_correct"] for v in verdicts),
                         "format_ok": sum(v["format_ok"] for v in verdicts),
                         "_verdicts": [(v["correct"], v["format_ok"]) for v in verdicts]}
        print(f"{name:40s} {results[name]['tokens_per_second']:8.2f} tokens/s  {seconds:7.1f} s  load {load:.1f}",
              flush=True)
    today = chosen[0][0]
    for name, r in results.items():
        r["identical_completions_to_today"] = sum(a == b for a, b in zip(texts[name], texts[today], strict=True))
        r["verdicts_agreeing_with_today"] = sum(a == b for a, b in zip(r["_verdicts"], results[today]["_verdicts"],
                                                                        strict=True))
    for r in results.values():
        del r["_verdicts"]
    fastest = max(results, key=lambda k: results[k]["tokens_per_second"])
    quickest = min(results, key=lambda k: results[k]["seconds"])
    mean_prompt = sum(len(encode_chat(tokenizer, p)) for p in prompts) / len(prompts)
    figures = {"model": NAME, "problems": len(problems), "max_new_tokens": args.max_new_tokens,
               "mean_prompt_tokens": round(mean_prompt, 1), "default_threads": default_threads,
               "cpu_bf16": {"avx512_bf16": torch.cpu._is_avx512_bf16_supported(),
                            "amx": torch.cpu._is_amx_tile_supported()},
               "settings": results, "today": today, "fastest": fastest, "quickest": quickest,
               "quickest_over_today_time": round(results[today]["seconds"] / results[quickest]["seconds"], 2)}
    record(args.name, figures,
           notes="one timed run per setting after a 2-token warm-up, in the order listed, all in one process; "
                 "greedy, generated to the end of the turn; a shared machine's load slows some runs more than "
                 "others (load_average_before says how busy it was)")


if __name__ == "__main__":
    main()
