"""How far a real-model GRPO step on this CPU is from what its matrix products alone cost.

``bench/real_grpo_speed.py`` times a step's phases through TRL. This times only the model's
linear layers' matrix products for the same work (attention scores and the LoRA adapters'
small products are left out), with torch's default threads, each the quickest of its
repeats, and sets these floors beside those phases. The products, for every linear layer of
the real model's architecture (its ``config.json``), in bf16 as its weights are:

* generation: the prefill of ``rows`` copies of the prompt (the output layer on the last
  position only), then one decode step per further token, each multiplying ``rows`` rows by
  every weight matrix, the output layer's included;
* the loss's forward pass: each micro-batch of prompt + completion tokens through every
  linear layer and the output layer. On a CPU, TRL 1.16 scores the output layer at every
  position, the prompt's included (``trl/trainer/utils.py``: only Triton devices keep the
  completion positions alone);
* the backward pass: the same layers' input gradients (the base weights are frozen under
  LoRA), and for the output layer two products, as TRL's chunked log-probability does on a
  CPU: the logits again in bf16, then their input gradient in fp32.

Completions are counted at the setup's mean generated length (a batch decodes and is padded
to its longest) and the prompt at the median length of the ``think`` prompt over the first
500 GSM8K train problems, so each figure is an estimate of a floor, not a forecast. A decode
step's products are timed on weights that stay in cache between repeats, while a real decode
step reads every weight from memory: for generation the floor is the arithmetic alone.

The output layer and its log-softmax are also timed as TRL computes them on a CPU (its
``ChunkedLogProbFunction``, forward and backward, with the entropy it logs), at every
position and at the completion positions alone: what scoring the prompt costs a step.

    python bench/cpu_ceiling.py                      # against after-4x2 in bench/results/real-grpo-speed.json
    python bench/cpu_ceiling.py --quick              # the tiny model's shapes, against nothing: seconds (the tests)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, record  # noqa: E402

PROMPTS = 500  # GSM8K train problems whose think-prompt lengths give the median


def layer_shapes(config: dict) -> list[tuple[int, int]]:
    """(in, out) of one decoder layer's linear layers: q, k, v, o, gate, up, down."""
    h, i = config["hidden_size"], config["intermediate_size"]
    kv = config["num_key_value_heads"] * (config.get("head_dim") or h // config["num_attention_heads"])
    return [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]


def timed(fn, a, b, repeats: int) -> float:
    """The quickest of ``repeats`` calls of ``fn(a, b)`` after a warm-up call."""
    fn(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(a, b)
        best = min(best, time.perf_counter() - t)
    return best


def product(d_in: int, d_out: int, tokens: int, repeats: int, backward: bool = False,
            dtype: str = "bfloat16") -> tuple[float, float]:
    """Seconds and FLOPs of ``tokens`` rows through a (d_in -> d_out) weight; ``backward``: its input gradient."""
    import torch

    dt = getattr(torch, dtype)
    w = torch.randn(d_out, d_in, dtype=dt)
    if backward:
        seconds = timed(torch.matmul, torch.randn(tokens, d_out, dtype=dt), w, repeats)
    else:
        seconds = timed(torch.nn.functional.linear, torch.randn(tokens, d_in, dtype=dt), w, repeats)
    return seconds, 2.0 * tokens * d_in * d_out


def layers(config: dict, tokens: int, repeats: int, backward: bool = False) -> tuple[float, float]:
    """Every decoder layer's linear products for ``tokens`` rows (their input gradients with ``backward``)."""
    seconds = flops = 0.0
    for d_in, d_out in layer_shapes(config):
        s, f = product(d_in, d_out, tokens, repeats, backward)
        seconds += s * config["num_hidden_layers"]
        flops += f * config["num_hidden_layers"]
    return seconds, flops


def floors(config: dict, rows: int, micro_batches: int, prompt: int, length: int, repeats: int) -> dict:
    """Each phase's products: seconds at this CPU's best and FLOPs, for ``rows`` completions of ``length`` tokens
    of one prompt."""
    h, v = config["hidden_size"], config["vocab_size"]
    total: dict[str, list[float]] = {}

    def add(phase: str, cost: tuple[float, float], times: float = 1) -> None:
        s, f = total.setdefault(phase, [0.0, 0.0])
        total[phase] = [s + cost[0] * times, f + cost[1] * times]

    add("generation", layers(config, rows * prompt, repeats))
    add("generation", product(h, v, rows, repeats))  # the first token's logits
    add("generation", layers(config, rows, repeats), length - 1)  # one decode step per further token
    add("generation", product(h, v, rows, repeats), length - 1)
    tokens = rows // micro_batches * (prompt + length)  # one micro-batch's positions, each scored on a CPU
    add("loss forward pass", layers(config, tokens, repeats), micro_batches)
    add("loss forward pass", product(h, v, tokens, repeats), micro_batches)
    add("backward", layers(config, tokens, repeats, backward=True), micro_batches)
    add("backward", product(h, v, tokens, repeats), micro_batches)  # the logits again
    add("backward", product(h, v, tokens, repeats, backward=True, dtype="float32"), micro_batches)
    return {k: {"floor_seconds": round(s, 3), "flop": f, "gflop_per_second": round(f / s / 1e9, 1)}
            for k, (s, f) in total.items()}


def trl_head(config: dict, tokens: int, repeats: int) -> float:
    """Seconds of the output layer and log-softmax, forward and backward, as TRL's loss computes them on a CPU for
    ``tokens`` positions (the hidden states' gradient only: the output layer is frozen under LoRA)."""
    import torch
    from trl.kernels import ChunkedLogProbFunction

    h, v = config["hidden_size"], config["vocab_size"]
    weight = torch.randn(v, h, dtype=torch.bfloat16)
    targets = torch.randint(0, v, (tokens,))

    def step(hidden, weight):
        logps, *_ = ChunkedLogProbFunction.apply(hidden, weight, None, targets, 1.0, 32768, None, 1.0, ("entropy",))
        logps.sum().backward()  # the entropy is logged, not trained on: no gradient flows back through it

    return timed(step, torch.randn(tokens, h, dtype=torch.bfloat16, requires_grad=True), weight, repeats)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speed", default=str(RESULTS / "real-grpo-speed.json"), help="a real_grpo_speed results file")
    ap.add_argument("--setup", default="after-4x2", help="the setup in it to set the floors beside (bf16 weights)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="the tiny model's shapes, 8 rows x 8 tokens, no comparison")
    args = ap.parse_args()

    import torch
    from transformers import AutoTokenizer

    from minir1.data import load_problems
    from minir1.generation import encode_chat
    from minir1.prompts import build_prompt

    setup = None
    if args.quick:
        from minir1.tiny import cached_tiny_model

        path, label, rows, micro, completion = cached_tiny_model(), "the tiny random model", 8, 2, 8.0
    else:
        from real_model import real_model_dir

        path, label = real_model_dir(), "Qwen2.5-Coder-0.5B-Instruct's architecture (the real model's config.json)"
        setup = json.loads(Path(args.speed).read_text())["figures"]["setups"].get(args.setup, {})
        run = next((r for r in setup.get("runs", []) if "error" not in r), None)
        if run is None or run["received"]["model_init_kwargs"].get("dtype") != "bfloat16":
            raise SystemExit(f"--setup {args.setup}: no successful bf16 run of it in {args.speed}; choose a bf16 "
                             "setup that ran, such as after-4x2")
        micro = run["received"]["gradient_accumulation_steps"]  # one generation batch: steps_per_generation unset
        rows, completion = run["received"]["per_device_train_batch_size"] * micro, setup["mean_completion_length"]
    config = json.loads((Path(path) / "config.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    prompt = round(statistics.median(len(encode_chat(tokenizer, build_prompt(p.question, "think")))
                                     for p in load_problems("gsm8k:train", limit=PROMPTS)))
    length = max(1, round(completion))
    phases = floors(config, rows, micro, prompt, length, args.repeats)
    per_micro = rows // micro
    every, completions_only = (trl_head(config, per_micro * n, args.repeats) * micro
                               for n in (prompt + length, length))
    figures = {"model": label, "torch_threads": torch.get_num_threads(), "rows": rows, "micro_batches": micro,
               "prompt_tokens": prompt, "completion_tokens": completion, "phases": phases,
               "trl_output_layer_seconds_per_step": {"every_position": round(every, 2),
                                                     "completion_positions": round(completions_only, 2)}}
    if setup:
        measured = setup["seconds_per_step_by_phase"]
        pairs = {"generation": measured["generation"], "loss forward pass": measured["loss forward pass"],
                 "backward": measured["backward, optimizer and the rest"]}
        for name, seconds in pairs.items():
            phases[name]["measured_seconds"] = seconds
            phases[name]["measured_over_floor"] = round(seconds / phases[name]["floor_seconds"], 1)
        figures["against"] = {"file": Path(args.speed).name, "setup": args.setup}
        figures["step_floor_seconds"] = round(sum(p["floor_seconds"] for p in phases.values()), 1)
        figures["step_measured_seconds"] = round(setup["seconds_per_step"], 1)
    record("cpu-ceiling" + ("-quick" if args.quick else ""), figures,
           notes="matrix products only, each the quickest of its repeats after a warm-up; completions at the setup's "
                 "mean length, the prompt at the median think-prompt length; the measured backward also holds the "
                 "optimizer step and the rest of the step; TRL's output layer timed forward and backward")


if __name__ == "__main__":
    main()
