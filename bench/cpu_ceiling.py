"""How far a real-model GRPO step on this CPU is from what its matrix products alone cost.

``bench/real_grpo_speed.py`` times a step's phases through TRL. This times only the model's
matrix products for the same work, in bf16 as the model's weights are, with torch's default
threads, and sets them beside those phases: what remains is everything else PyTorch does
(attention, norms, activations, the LoRA adapters, the log-softmax, the optimizer, and
the cost of dispatching thousands of small operations one by one). The products, for every
linear layer of the real model's architecture (its ``config.json``) and the output layer:

* generation: the prefill of ``rows`` copies of the prompt (the output layer on the last
  position only), then one decode step per new token, each multiplying ``rows`` rows by
  every weight matrix, the output layer's included;
* the loss's forward pass: each micro-batch of prompt + completion tokens through every
  linear layer, the output layer on the completion positions only (as TRL computes it);
* the backward pass: the same products' input gradients (the base weights are frozen
  under LoRA, so their weight gradients are never computed).

Completions are counted at the setup's mean generated length, though a batch decodes and
is padded to its longest: each figure is a floor, not a forecast.

    python bench/cpu_ceiling.py                      # against after-4x2 in bench/results/real-grpo-speed.json
    python bench/cpu_ceiling.py --quick              # the tiny model's shapes, against nothing: seconds (the tests)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, record  # noqa: E402


def shapes(config: dict) -> list[tuple[int, int]]:
    """(in, out) of one decoder layer's linear layers: q, k, v, o, gate, up, down."""
    h, i = config["hidden_size"], config["intermediate_size"]
    head = config.get("head_dim") or h // config["num_attention_heads"]
    kv = config["num_key_value_heads"] * head
    return [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]


def timed(fn, a, b, repeats: int) -> float:
    """The quickest of ``repeats`` calls of ``fn(a, b)`` after a warm-up call: a floor."""
    fn(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(a, b)
        best = min(best, time.perf_counter() - t)
    return best


def products(config: dict, rows: int, head_rows: int, repeats: int, backward: bool = False) -> tuple[float, float]:
    """Seconds and FLOPs of one pass of ``rows`` token rows through every linear layer, the output layer on
    ``head_rows`` of them; ``backward``: the input gradients of the same products instead."""
    import torch

    work = [(s, rows, config["num_hidden_layers"]) for s in shapes(config)]
    if head_rows:
        work.append(((config["hidden_size"], config["vocab_size"]), head_rows, 1))
    seconds = flops = 0.0
    for (d_in, d_out), n, count in work:
        w = torch.randn(d_out, d_in, dtype=torch.bfloat16)
        if backward:
            s = timed(torch.matmul, torch.randn(n, d_out, dtype=torch.bfloat16), w, repeats)
        else:
            s = timed(torch.nn.functional.linear, torch.randn(n, d_in, dtype=torch.bfloat16), w, repeats)
        seconds += s * count
        flops += 2.0 * n * d_in * d_out * count
    return seconds, flops


def floors(config: dict, rows: int, micro_batches: int, prompt: int, completion: float, repeats: int) -> dict:
    length = round(completion)
    prefill, f1 = products(config, rows * prompt, rows, repeats)
    decode, f2 = products(config, rows, rows, repeats)
    per_micro = rows // micro_batches
    forward, f3 = products(config, per_micro * (prompt + length), per_micro * length, repeats)
    backward, f4 = products(config, per_micro * (prompt + length), per_micro * length, repeats, backward=True)
    phases = {"generation": (prefill + decode * length, f1 + f2 * length),
              "loss forward pass": (forward * micro_batches, f3 * micro_batches),
              "backward": (backward * micro_batches, f4 * micro_batches)}
    return {k: {"floor_seconds": round(s, 3), "flop": f, "gflop_per_second": round(f / s / 1e9, 1)}
            for k, (s, f) in phases.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speed", default=str(RESULTS / "real-grpo-speed.json"), help="a real_grpo_speed results file")
    ap.add_argument("--setup", default="after-4x2", help="the setup in it to set the floors beside")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="the tiny model's shapes, 8 rows x 8 tokens, no comparison")
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    from minir1.data import load_problems
    from minir1.generation import encode_chat
    from minir1.prompts import build_prompt

    if args.quick:
        from minir1.tiny import cached_tiny_model

        path, label = cached_tiny_model(), "the tiny random model"
        rows, micro, completion, measured = 8, 2, 8.0, None
    else:
        from real_model import real_model_dir

        path = real_model_dir()
        label = "Qwen2.5-Coder-0.5B-Instruct's architecture (the real model's config.json)"
        speed = json.loads(Path(args.speed).read_text())["figures"]
        setup = speed["setups"][args.setup]
        run = next(r for r in setup["runs"] if "error" not in r)
        rows = run["received"]["per_device_train_batch_size"] * run["received"]["gradient_accumulation_steps"]
        micro, completion = run["received"]["gradient_accumulation_steps"], setup["mean_completion_length"]
        measured = setup["seconds_per_step_by_phase"]
    config = json.loads((Path(path) / "config.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    prompt = len(encode_chat(tokenizer, build_prompt(load_problems("gsm8k:train", limit=1)[0].question, "think")))
    phases = floors(config, rows, micro, prompt, completion, args.repeats)
    figures = {"model": label, "torch_threads": torch.get_num_threads(), "dtype": "bfloat16",
               "rows": rows, "micro_batches": micro, "prompt_tokens": prompt,
               "completion_tokens": completion, "phases": phases}
    if measured:
        figures["against"] = {"file": str(Path(args.speed).name), "setup": args.setup}
        rest = measured["backward, optimizer and the rest"]
        pairs = {"generation": measured["generation"], "loss forward pass": measured["loss forward pass"],
                 "backward": rest}
        for name, seconds in pairs.items():
            phases[name]["measured_seconds"] = seconds
            phases[name]["measured_over_floor"] = round(seconds / phases[name]["floor_seconds"], 1)
        figures["step_floor_seconds"] = round(sum(p["floor_seconds"] for p in phases.values()), 1)
        figures["step_measured_seconds"] = round(sum(pairs.values()), 1)
    record("cpu-ceiling" + ("-quick" if args.quick else ""), figures,
           notes="matrix products only, bf16, quickest of the repeats after a warm-up; completions at the setup's "
                 "mean length (a floor); the measured backward also holds the optimizer step and the rest")


if __name__ == "__main__":
    main()
