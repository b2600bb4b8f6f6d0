"""Rollout throughput: generated tokens per second of each generation backend GRPO can use.

A GRPO rollout samples ``G`` completions for each prompt of a step. TRL offers
three engines for it: transformers' ``generate`` (its default), transformers'
continuous batching (``use_transformers_continuous_batching``) and vLLM
(``use_vllm``). This script times each on the same rollout: 8 GSM8K prompts x 8
completions, sampled at temperature 1.0, forced to full length so every backend
produces the same number of tokens. vLLM is timed only where it is installed (it
needs a CUDA GPU); elsewhere it is recorded as not available. Each figure is the
best of ``--repeats`` timed runs after a warm-up run.

    python bench/rollout_throughput.py            # CPU: the demo-sized tiny model, 64 new tokens
    python bench/rollout_throughput.py --quick    # seconds: what the test suite runs
    python bench/rollout_throughput.py --gpu      # Qwen2.5-0.5B-Instruct's architecture, bf16, 256 new tokens
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402
from grpo_step import build_model  # noqa: E402

PROMPTS, GENERATIONS = 8, 8


def prompt_ids(tokenizer) -> list[list[int]]:
    from minir1.data import load_problems
    from minir1.generation import encode_chat
    from minir1.prompts import build_prompt

    return [encode_chat(tokenizer, build_prompt(p.question)) for p in load_problems("gsm8k:train", limit=PROMPTS)]


def hf_generate(model, tokenizer, prompts, new_tokens: int) -> int:
    """transformers' generate on the whole rollout as one left-padded batch (TRL's default path)."""
    import torch
    from transformers import GenerationConfig

    rows = [p for p in prompts for _ in range(GENERATIONS)]
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=model.device)
    mask = (torch.arange(width) >= torch.tensor([width - len(r) for r in rows])[:, None]).long().to(model.device)
    config = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True, temperature=1.0,
                              top_p=1.0, top_k=0, pad_token_id=pad)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
    return (out.shape[1] - width) * out.shape[0]


def hf_continuous_batching(model, tokenizer, prompts, new_tokens: int) -> int:
    """transformers' continuous batching (paged KV cache), as TRL's use_transformers_continuous_batching runs it."""
    from transformers import GenerationConfig

    config = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True, temperature=1.0,
                              top_p=1.0, top_k=0, eos_token_id=-1, pad_token_id=tokenizer.pad_token_id)
    out = model.generate_batch(inputs=[p for p in prompts for _ in range(GENERATIONS)], generation_config=config,
                               progress_bar=False)
    return sum(len(r.generated_tokens) for r in out.values())


def vllm_generate(path: str, prompts, new_tokens: int):
    """vLLM with the same sampling; returns a function that runs one rollout."""
    from vllm import LLM, SamplingParams

    llm = LLM(model=path, dtype="bfloat16", gpu_memory_utilization=0.5, seed=0)
    params = SamplingParams(n=GENERATIONS, temperature=1.0, top_p=1.0, max_tokens=new_tokens, min_tokens=new_tokens,
                            ignore_eos=True)

    def run() -> int:
        outs = llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        return sum(len(c.token_ids) for o in outs for c in o.outputs)

    return run


def best_rate(fn, repeats: int) -> float:
    import torch

    fn()  # warm-up: kernels, caches, allocator
    best = 0.0
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t = time.perf_counter()
        tokens = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = max(best, tokens / (time.perf_counter() - t))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="Qwen2.5-0.5B architecture on a CUDA GPU")
    ap.add_argument("--quick", action="store_true", help="the default tiny model, 16 new tokens, one repeat")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if args.gpu and not torch.cuda.is_available():
        raise SystemExit("--gpu needs a CUDA GPU")
    new_tokens = 16 if args.quick else (256 if args.gpu else 64)
    repeats = 1 if args.quick else args.repeats
    rates: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = build_model(Path(tmp) / "model", args.gpu, args.quick)
        tokenizer = AutoTokenizer.from_pretrained(path)
        dtype = torch.bfloat16 if args.gpu else torch.float32
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to("cuda" if args.gpu else "cpu").eval()
        prompts = prompt_ids(tokenizer)
        rates["transformers generate"] = best_rate(lambda: hf_generate(model, tokenizer, prompts, new_tokens),
                                                   repeats)
        rates["transformers continuous batching"] = best_rate(
            lambda: hf_continuous_batching(model, tokenizer, prompts, new_tokens), repeats)
        if importlib.util.find_spec("vllm") is not None and torch.cuda.is_available():
            del model
            torch.cuda.empty_cache()
            rates["vllm"] = best_rate(vllm_generate(str(path), prompts, new_tokens), repeats)
        else:
            rates["vllm"] = "not available here (needs vLLM and a CUDA GPU)"
    base = rates["transformers generate"]
    figures = {"rollout": f"{PROMPTS} prompts x {GENERATIONS} completions x {new_tokens} new tokens, sampled",
               "tokens_per_second": {k: round(v) if isinstance(v, float) else v for k, v in rates.items()},
               "ratio_to_transformers_generate": {k: round(v / base, 2) for k, v in rates.items()
                                                  if isinstance(v, float)}}
    mode = "quick" if args.quick else ("gpu" if args.gpu else "cpu")
    record(f"rollout_throughput-{mode}", figures,
           notes="Best of the timed runs after a warm-up; every backend forced to the same number of tokens.")


if __name__ == "__main__":
    main()
