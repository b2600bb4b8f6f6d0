"""Where a GRPO step's sampling time goes with LoRA: the plain model against the same model with a LoRA adapter.

TRL's transformers path samples a GRPO group from the policy being trained: with LoRA, a peft model whose every
linear layer adds its adapter's two small matmuls in separate calls (peft keeps adapters in fp32 beside bf16 base
weights). This measures what that costs on the same work: one GSM8K prompt (the ``think`` chat prompt) sampled 8
times at temperature 1, as one group of the ``mini-r1-cpu`` recipe, forced to full length (so every setup
generates the same tokens), through :func:`minir1.generation.generate_tokens`:

* ``plain``: the model alone (what sampling would cost with the adapter folded into the weights);
* ``lora``: the model with a rank-16 / alpha-32 adapter on every linear layer, unmerged (what TRL samples from);
* ``lora-merged``: the same peft model after ``merge_adapter()``: the adapter folded in, peft's layers still in
  place (their dispatch cost without the adapter matmuls).

One warm-up run of each, then rounds over all setups in alternating order (A B C, C B A, ...); each figure is the
median over rounds, and each ratio is taken within a round.

    python bench/lora_sampling.py             # the real model (bench/real_model.py), 8 rows x 128 new tokens
    python bench/lora_sampling.py --quick     # the tiny model, 8 new tokens: seconds (the test suite runs it)
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402

SETUPS = ("plain", "lora", "lora-merged")


def models(path: str) -> dict:
    """The three setups' models, each its own copy of the weights, in the dtype the model was saved in, each with
    the output layer's contiguous-input hook that minir1 installs on every model it trains or evaluates (without
    it, the peft model alone samples far slower on a CPU)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from minir1.models import contiguous_head_input

    plain = AutoModelForCausalLM.from_pretrained(path, dtype="auto").eval()
    lora_config = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                             task_type="CAUSAL_LM")
    lora = get_peft_model(copy.deepcopy(plain), lora_config).eval()
    merged = get_peft_model(copy.deepcopy(plain), lora_config).eval()
    merged.merge_adapter()
    setups = {"plain": plain, "lora": lora, "lora-merged": merged}
    for model in setups.values():
        contiguous_head_input(model)
    return setups


def seconds(model, tokenizer, prompt: list[int], rows: int, new_tokens: int) -> float:
    """One timed sampling of ``rows`` completions of ``prompt``, forced to ``new_tokens`` each."""
    from minir1.generation import generate_tokens

    t = time.perf_counter()
    gens = generate_tokens(model, tokenizer, [prompt], max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                           num_samples=rows, temperature=1.0, seed=0)
    took = time.perf_counter() - t
    assert sum(g.tokens for g in gens[0]) == rows * new_tokens, "generation was not forced to full length"
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=8, help="completions sampled together (one GRPO group)")
    ap.add_argument("--new_tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="the tiny model, 8 new tokens, 1 round")
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    from minir1.data import load_problems
    from minir1.generation import encode_chat
    from minir1.prompts import build_prompt

    if args.quick:
        from minir1.tiny import cached_tiny_model

        path, label, args.new_tokens, args.rounds = str(cached_tiny_model()), "the tiny random model", 8, 1
    else:
        from real_model import real_model_dir

        path = str(real_model_dir())
        label = "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF dequantized to bf16), not Qwen2.5-0.5B-Instruct"
    tokenizer = AutoTokenizer.from_pretrained(path)
    prompt = encode_chat(tokenizer, build_prompt(load_problems("gsm8k:train", limit=1)[0].question, "think"))
    setups = models(path)
    for name in SETUPS:  # warm-up
        seconds(setups[name], tokenizer, prompt, args.rows, args.new_tokens)
    rounds = []
    for r in range(args.rounds):
        order = SETUPS if r % 2 == 0 else SETUPS[::-1]
        rounds.append({name: seconds(setups[name], tokenizer, prompt, args.rows, args.new_tokens) for name in order})
    tokens = args.rows * args.new_tokens
    figures = {
        "model": label, "rows": args.rows, "new_tokens": args.new_tokens, "prompt_tokens": len(prompt),
        "rounds": args.rounds, "torch_threads": torch.get_num_threads(),
        "tokens_per_second": {n: round(tokens / statistics.median(r[n] for r in rounds), 1) for n in SETUPS},
        "lora_over_plain_time": round(statistics.median(r["lora"] / r["plain"] for r in rounds), 2),
        "merged_over_plain_time": round(statistics.median(r["lora-merged"] / r["plain"] for r in rounds), 2),
        "seconds_per_round": [{n: round(s, 2) for n, s in r.items()} for r in rounds],
    }
    record("lora_sampling" + ("_quick" if args.quick else ""), figures,
           notes="rank 16 / alpha 32 on every linear layer, adapters in peft's default dtype; sampled at "
                 "temperature 1, forced to full length; median over rounds in alternating order after a warm-up")


if __name__ == "__main__":
    main()
