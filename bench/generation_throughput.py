"""Generation throughput of the default (Hugging Face) backend: tokens per second per setting.

Every setting runs :func:`minir1.generation.generate_tokens`, the code evaluation
uses, with generation forced to full length (``min_new_tokens = max_new_tokens``
and no stop string), so each setting produces the same number of tokens. Each
figure is the best of ``--repeats`` rounds over all settings, after one warm-up
run of each (which also pays for any compilation): other work on a shared machine
only ever slows a run down. One more setting measures evaluation's default (its
batch size, with the end-of-answer check on).
The "naive" setting is one prompt at a time with transformers' dynamic cache,
what a plain ``model.generate`` loop does; the ratio to the fastest setting is
measured in the same run.

    python bench/generation_throughput.py          # CPU: the tiny model, real GSM8K chat prompts
    python bench/generation_throughput.py --threads 1   # the same, steadier on a busy shared machine
    python bench/generation_throughput.py --gpu    # GPU: Qwen2.5-0.5B-Instruct's architecture, random bf16
                                                   # weights, ~150-token prompts, 256 new tokens
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import record  # noqa: E402


def cpu_setup(n_prompts: int):
    """The tiny model and the chat prompts of the first GSM8K test problems, as token ids."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from minir1.data import load_problems
    from minir1.generation import encode_chat
    from minir1.prompts import build_prompt
    from minir1.tiny import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_model(Path(tmp) / "tiny")
        model = AutoModelForCausalLM.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
    prompts = [encode_chat(tokenizer, build_prompt(p.question)) for p in load_problems("gsm8k:test", limit=n_prompts)]
    return model, tokenizer, prompts


def gpu_setup(n_prompts: int, prompt_len: int):
    """Qwen2.5-0.5B-Instruct's exact architecture with random bf16 weights on the GPU, random ~150-token prompts.

    The tokenizer is a word-level one over the full 151,936-token vocabulary, so that
    decoding the generated ids costs what it costs in a real evaluation.
    """
    import torch
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    if not torch.cuda.is_available():
        raise SystemExit("--gpu needs a CUDA GPU")
    config = Qwen2Config(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, tie_word_embeddings=True,
                         max_position_embeddings=32768, rope_theta=1e6, eos_token_id=151645, pad_token_id=151643)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to("cuda", torch.bfloat16)
    vocab = {f"t{i}": i for i in range(config.vocab_size)}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="t0")),
                                        eos_token="t151645", pad_token="t151643")
    g = torch.Generator().manual_seed(0)
    # lengths vary around prompt_len, like real prompts; ids avoid the special tokens at the top of the vocabulary
    lengths = torch.randint(prompt_len - 20, prompt_len + 21, (n_prompts,), generator=g).tolist()
    prompts = [torch.randint(0, 151000, (n,), generator=g).tolist() for n in lengths]
    return model, tokenizer, prompts


def tokens_per_second(model, tokenizer, prompts: list[list[int]], *, batch_size: int, max_new_tokens: int,
                      stop: str | None = None, **speed) -> float:
    """One timed run, forced to full length.

    ``stop`` turns on the end-of-answer check evaluation uses (a random model never
    writes ``</answer>``, so the length stays forced): it measures what the check costs.
    """
    import torch

    from minir1.generation import generate_tokens

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    gens = generate_tokens(model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=batch_size,
                           min_new_tokens=max_new_tokens, stop=stop, **speed)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    tokens = sum(g.tokens for row in gens for g in row)
    assert tokens == len(prompts) * max_new_tokens, "generation was not forced to full length"
    return tokens / seconds


SPEED = {"dynamic": {"cache": None, "compile": False}, "static": {"cache": "static", "compile": False},
         "static+compile": {"cache": "static", "compile": True}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="Qwen2.5-0.5B architecture on a CUDA GPU")
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds over all settings (the best is kept)")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    ap.add_argument("--no_compile", action="store_true", help="skip the torch.compile settings")
    ap.add_argument("--quick", action="store_true", help="seconds: batches 1 and 8, 8 new tokens, no compile")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.no_compile = 1, True

    import torch

    from minir1.answers import ANSWER_CLOSE
    from minir1.generation import default_batch_size

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu:
        batch_sizes, max_new_tokens, few = [1, 64, 256], 256, 4
        model, tokenizer, prompts = gpu_setup(256, prompt_len=150)
    elif args.quick:
        batch_sizes, max_new_tokens, few = [1, 8], 8, 2
        model, tokenizer, prompts = cpu_setup(64)
    else:
        batch_sizes, max_new_tokens, few = [1, 8, 32, 64], 64, 8
        model, tokenizer, prompts = cpu_setup(64)
    # (name, prompts, batch size, stop string, speed settings); one prompt at a time is slow, and a few
    # prompts measure it as well as all of them would
    cases = [(f"batch {bs}, {name}", prompts[: few if bs == 1 else max(bs, 64)], bs, None, SPEED[name])
             for bs in batch_sizes for name in SPEED if not (args.no_compile and "compile" in name)]
    default_bs = default_batch_size("cuda" if args.gpu else "cpu")
    default = f"batch {default_bs}, dynamic, end-of-answer check on (eval's default)"
    cases.append((default, prompts[: max(default_bs, 64)], default_bs, ANSWER_CLOSE, SPEED["dynamic"]))

    notes, best = [], {}
    for name, subset, bs, stop, speed in cases:  # warm-up, which also pays for any compilation
        try:
            tokens_per_second(model, tokenizer, subset, batch_size=bs, max_new_tokens=max_new_tokens, stop=stop,
                              **speed)
            best[name] = 0.0
        except Exception as e:  # compile needs a working C++ toolchain; report it, do not stop the bench
            notes.append(f"{name} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
    # rounds over all settings, so a burst of other work on a shared machine hits one round, not one setting
    for _ in range(args.repeats):
        for name, subset, bs, stop, speed in cases:
            if name in best:
                best[name] = max(best[name], tokens_per_second(model, tokenizer, subset, batch_size=bs,
                                                               max_new_tokens=max_new_tokens, stop=stop, **speed))
    tps = {name: round(v, 1) for name, v in best.items()}
    for name, v in tps.items():
        print(f"{name:64s} {v:10.1f} tokens/s")
    naive = tps["batch 1, dynamic"]
    fastest = max(tps, key=tps.get)
    figures = {"device": "cuda" if args.gpu else "cpu", "torch_threads": torch.get_num_threads(),
               "load_average_at_start": round(os.getloadavg()[0], 2), "max_new_tokens": max_new_tokens,
               "mean_prompt_tokens": round(sum(map(len, prompts)) / len(prompts), 1), "tokens_per_second": tps,
               "naive": "batch 1, dynamic", "fastest": fastest, "fastest_over_naive": round(tps[fastest] / naive, 1),
               "default_over_naive": round(tps[default] / naive, 1)}
    notes.insert(0, f"best of {args.repeats} rounds over all settings after a warm-up run of each; every run "
                    "generated the same number of tokens (forced to full length)")
    if args.threads:
        notes.append(f"torch threads set to {args.threads}: on a shared machine more threads than free cores make "
                     "torch's threads wait on each other and single runs collapse, which hides the differences")
    name = "generation_throughput" + ("_gpu" if args.gpu else "_quick" if args.quick else "")
    record(name, figures, notes="; ".join(notes))


if __name__ == "__main__":
    main()
