"""GRPO step cost: the seeds' setup against minir1's defaults, on the same work, side by side.

Every setup trains through ``minir1 train`` (TRL's GRPOTrainer) in its own process,
so peak memory is its own, from a recipe this script writes: the same prompts
(GSM8K train), 8 prompts x 8 generations per generation batch, the same length
limit, LoRA rank 16 / alpha 32.

How a step is counted (``bench/common.py``: ``whole_cycles``). TRL generates one
batch every ``steps_per_generation x num_iterations`` micro-batches: a generation
cycle of one optimizer step for most setups, two for ``minir1+gen2`` and
``minir1+mu2``. A run trains one warm-up cycle and then whole cycles; seconds per
step are the timed cycles' wall time over their optimizer steps, and generated
tokens are counted as generated (the benchmark's reward sees every completion's
token ids once), so a setup that generates fewer completions per step shows it in
its tokens and completions per step. Random weights rarely sample the end token,
so lengths are close to the limit, but not equal: compare tokens/s as well.

Every setup runs once per round, every other round in reverse order (seeds,
minir1, ..., then ..., minir1, seeds): drift on a shared machine falls on both
sides of a comparison alike. A setup's speed against ``seeds`` is the median over
rounds of the ratio within a round.

Setups:
* ``seeds``: as the Mini-R1 seed's recipe runs TRL: one completion per micro-batch
  with gradient accumulation up to the step's 64, gradient checkpointing on
  (``activation_checkpointing``, transformers' name for it; TRL's default), and
  LoRA dropout 0.05 (the value LoRA examples use; PEFT's own default is 0).
* ``minir1``: minir1's defaults (no gradient checkpointing, no LoRA dropout) with
  micro-batches of 16 x 4.
* ablations, one change each: ``seeds-no-dropout``, ``minir1+checkpointing``,
  ``minir1-one-pass`` (64 x 1), ``minir1+gen2`` (one generation batch of 16 prompts
  for two optimizer steps: ``steps_per_generation=8``), ``minir1+mu2``
  (``num_iterations=2``: two updates per generation batch, so half the completions
  per step: not the same work, shown for the trade-off only).

    python bench/grpo_step.py            # CPU: the demo-sized tiny model, 64 new tokens, 2 rounds
    python bench/grpo_step.py --quick    # the default tiny model, 2 prompts x 4, 16 new tokens, 1 round: the tests
    python bench/grpo_step.py --gpu      # Qwen2.5-0.5B-Instruct's architecture, random weights, 512 new tokens
    python bench/grpo_step.py --setups seeds,minir1 --rounds 2                # the headline pair only
    python bench/grpo_step.py --name ablations --setups seeds,minir1+gen2 ...  # more setups, their own file
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import GENERATIONS_LOG, cycle_steps, median, record, schedule, train_run  # noqa: E402

PROMPTS_PER_STEP, GENERATIONS = 8, 8
QUICK_PROMPTS, QUICK_GENERATIONS = 2, 4  # --quick: a smaller step, so the test suite's run stays short


def make_setups(completions: int) -> dict[str, dict]:
    """Every setup for ``completions`` per optimizer step (64 in the real runs)."""
    seeds = {"per_device_train_batch_size": 1, "gradient_accumulation_steps": completions,
             "activation_checkpointing": True, "lora_dropout": 0.05}
    minir1 = {"per_device_train_batch_size": completions // 4, "gradient_accumulation_steps": 4, "lora_dropout": 0.0}
    return {
        "seeds": seeds,
        "minir1": minir1,
        "seeds-no-dropout": {**seeds, "lora_dropout": 0.0},
        "minir1+checkpointing": {**minir1, "activation_checkpointing": True},
        "minir1-one-pass": {**minir1, "per_device_train_batch_size": completions, "gradient_accumulation_steps": 1},
        "minir1+gen2": {**minir1, "steps_per_generation": 8},
        "minir1+mu2": {**minir1, "num_iterations": 2},
    }


SETUPS = make_setups(PROMPTS_PER_STEP * GENERATIONS)
MINIR1 = SETUPS["minir1"]
QUICK = ("seeds", "minir1")
# Qwen2.5-0.5B-Instruct's architecture (its config.json).
QWEN_05B = {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
            "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768, "rope_theta": 1e6}
DEMO_SIZE = {"hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
             "num_key_value_heads": 2}
REWARD = "grpo_step:length_spread"


def length_spread(completions, completion_ids=None, trainer_state=None, **kwargs):
    """A reward with spread for random weights (every task reward is zero): varies with the token ids.

    It also counts what was generated: TRL scores each generation batch once, so with
    ``MINIR1_BENCH_GENERATIONS`` set it appends the batch's completions and tokens and
    the global step it was generated at.
    """
    path = os.environ.get(GENERATIONS_LOG)
    if path:
        line = {"step": trainer_state.global_step if trainer_state is not None else None,
                "completions": len(completion_ids), "tokens": sum(len(ids) for ids in completion_ids),
                "rank": int(os.environ.get("RANK", 0))}
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
    return [(sum(ids) % 97) / 97 for ids in completion_ids]


def base_settings(model: str, length: int, timed_steps: int, cycle: int, generations: int = GENERATIONS) -> dict:
    """The recipe every setup shares: one warm-up cycle, then at least ``timed_steps`` steps in whole cycles."""
    cycles = -(-timed_steps // cycle)
    return {"model": model, "max_steps": cycle * (1 + cycles), "num_generations": generations,
            "max_completion_length": length, "lora": True, "lora_r": 16, "lora_alpha": 32, "learning_rate": 1e-5,
            "lora_target_modules": ["all-linear"], "rewards": ["format_rubric", "correctness", REWARD],
            "reward_weights": [13, 10, 1], "save_steps": 10**6, "sample_every": 0, "plot": False,
            "logging_steps": 1, "seed": 0}


def qwen_05b_config(tiny_path: Path):
    """Qwen2.5-0.5B-Instruct's architecture with the tiny model's tokenizer settings.

    A new config, not the tiny one edited: its per-layer list (``layer_types``) is sized
    for the tiny model's layers.
    """
    from transformers import Qwen2Config

    tiny = Qwen2Config.from_pretrained(tiny_path).to_dict()
    kept = {k: v for k, v in tiny.items()
            if k not in ("layer_types", "max_window_layers", "rope_parameters", "rope_theta", *QWEN_05B)}
    arch = {k: v for k, v in QWEN_05B.items() if k != "rope_theta"}
    return Qwen2Config(**kept, **arch, max_window_layers=QWEN_05B["num_hidden_layers"],
                       rope_parameters={"rope_type": "default", "rope_theta": QWEN_05B["rope_theta"]})


def build_model(folder: Path, gpu: bool, quick: bool) -> Path:
    """A model folder: the tiny tokenizer, and either a small model or Qwen2.5-0.5B's architecture."""
    import torch
    from transformers import Qwen2ForCausalLM

    from minir1.tiny import build_tiny_model

    if quick:
        return build_tiny_model(folder)
    path = build_tiny_model(folder, **DEMO_SIZE)
    if gpu:  # same tokenizer, the real architecture; ids it cannot decode come out as empty text
        torch.manual_seed(0)
        Qwen2ForCausalLM(qwen_05b_config(path)).to(torch.bfloat16).save_pretrained(path)
    return path


def summarize(name: str, settings: dict, runs: list[dict]) -> dict:
    """One setup's runs: medians over rounds, every run kept."""
    ok = [r for r in runs if "error" not in r]
    out = {"setup": name, "settings": settings, "cycle_steps": cycle_steps(settings), "runs": runs}
    if not ok:
        return {**out, "error": runs[-1]["error"]}
    for key in ("seconds_per_step", "generated_tokens_per_second", "completions_per_step", "mean_completion_length"):
        out[key] = median(r[key] for r in ok)
    out["peak_cpu_memory_gb"] = max((r["peak_cpu_memory_gb"] for r in ok if r["peak_cpu_memory_gb"]), default=None)
    out["peak_gpu_memory_gb"] = max((r["peak_gpu_memory_gb"] for r in ok if r["peak_gpu_memory_gb"]), default=None)
    shown = {*settings, "activation_checkpointing", "gradient_checkpointing"}
    out["received"] = {k: v for k, v in ok[0]["received"].items() if k.split(" ")[0] in shown}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="Qwen2.5-0.5B architecture on a CUDA GPU")
    ap.add_argument("--quick", action="store_true", help="the default tiny model, 2 timed steps, 16 tokens")
    ap.add_argument("--steps", type=int, help="optimizer steps timed per run after the warm-up cycle, rounded up "
                                              "to whole cycles (default 6; --quick 2; --gpu 18)")
    ap.add_argument("--rounds", type=int, help="runs of every setup, alternating order (default 2; --quick 1)")
    ap.add_argument("--threads", type=int, help="torch threads per run (OMP_NUM_THREADS; default: torch's own "
                                                "choice). On a busy shared machine 1 keeps threads from waiting "
                                                "on each other")
    ap.add_argument("--name", help="results go to bench/results/grpo_step-<mode>-NAME.json (e.g. ablations)")
    ap.add_argument("--setups", help="comma-separated, of: " + ", ".join(SETUPS) + " (default: all; --quick: "
                                      + ", ".join(QUICK) + ")")
    args = ap.parse_args()
    args.rounds = (1 if args.quick else 2) if args.rounds is None else args.rounds
    length = 16 if args.quick else (512 if args.gpu else 64)
    prompts, generations = (QUICK_PROMPTS, QUICK_GENERATIONS) if args.quick else (PROMPTS_PER_STEP, GENERATIONS)
    setups = make_setups(prompts * generations)
    timed = args.steps or (2 if args.quick else (18 if args.gpu else 6))
    names = args.setups.split(",") if args.setups else list(QUICK if args.quick else SETUPS)
    unknown = [n for n in names if n not in SETUPS]
    if unknown or args.rounds < 1:
        raise SystemExit(f"unknown setups {unknown}: choose from {', '.join(SETUPS)}" if unknown
                         else "--rounds must be at least 1")
    if args.gpu:
        import torch

        if not torch.cuda.is_available():
            raise SystemExit("--gpu needs a CUDA GPU")

    runs: dict[str, list[dict]] = {n: [] for n in names}
    env = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
    order = schedule(names, args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        model = str(build_model(Path(tmp) / "model", args.gpu, args.quick))
        for i, (rnd, name) in enumerate(order):
            settings = {**base_settings(model, length, timed, cycle_steps(setups[name]), generations), **setups[name]}
            try:
                result = {"round": rnd, **train_run(settings, Path(tmp) / f"{i}-{name}", env=env)}
            except (RuntimeError, ValueError) as e:  # keep the other setups' figures; say which one failed and why
                result = {"round": rnd, "error": str(e)}
                print(f"{name} (round {rnd + 1}) failed: {e}", file=sys.stderr)
            runs[name].append(result)
            print(f"round {rnd + 1} {name}: " + (result.get("error") or
                  f"{result['seconds_per_step']:.2f} s/step, {result['generated_tokens_per_second']:.0f} tokens/s, "
                  f"load {result['load_average_before']}"), file=sys.stderr, flush=True)
    figures = {"work_per_step": f"{prompts} prompts x {generations} generations x up to {length} new tokens",
               "completions_per_generation_batch": prompts * generations,
               "torch_threads": args.threads or "torch's default", "rounds": args.rounds,
               "order": [n for _, n in order], "setups": {n: summarize(n, setups[n], runs[n]) for n in names}}
    if "seeds" in runs:
        per_round = {}
        for name in names:
            ratios = [s["seconds_per_step"] / r["seconds_per_step"]
                      for s, r in zip(runs["seeds"], runs[name], strict=True) if "error" not in s and "error" not in r]
            if ratios:
                per_round[name] = [round(x, 2) for x in ratios]
        figures["speedup_vs_seeds_per_round"] = per_round
        figures["speedup_vs_seeds"] = {k: round(median(v), 2) for k, v in per_round.items()}
    mode = "quick" if args.quick else ("gpu" if args.gpu else "cpu")
    record(f"grpo_step-{mode}" + (f"-{args.name}" if args.name else ""), figures,
           notes="Seconds per optimizer step = wall time of whole generation cycles after a warm-up cycle, over "
                 "their steps; generated tokens counted as generated; each run in its own process; setups in "
                 "alternating order over rounds, ratios to seeds within a round, medians over rounds.")


if __name__ == "__main__":
    main()
