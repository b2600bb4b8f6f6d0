"""Warm start: a short supervised pass (TRL's SFTTrainer, loss on the completion only) from GRPO's chat prompts
to worked solutions in the tag format. GRPO learns only from differences between completions of one prompt:
a model that never writes an ``<answer>`` block earns zero reward on all of them and nothing moves, so a few
hundred worked examples give it a starting point.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .data import Problem, load_problems
from .folders import check_replaceable
from .jsonl import write_json
from .prompts import DEFAULT_STYLE, build_prompt, format_completion, solution_steps

MARKER = "minir1-warmstart.json"  # written into every warm-started model folder; --overwrite replaces only those


def sft_rows(problems: list[Problem], style: str = DEFAULT_STYLE, system_prompt: str | None = None) -> list[dict]:
    """Prompt-completion rows in chat form: the GRPO prompt, and the worked solution in the tag format.

    >>> row = sft_rows(load_problems("gsm8k:test", limit=1))[0]
    >>> row["completion"][0]["content"].endswith("<answer>\\n18\\n</answer>")
    True
    """
    return [{"prompt": build_prompt(p.question, style, system_prompt),
             "completion": [{"role": "assistant",
                             "content": format_completion(solution_steps(p.solution), p.answer, style)}]}
            for p in problems]


def warm_start(model: str, rows: list[dict], output_dir: str | Path, *, epochs: float = 1.0,
               learning_rate: float = 2e-5, batch_size: int = 8, lora: bool = False, seed: int = 0) -> Path:
    """Fine-tune ``model`` on prompt-completion ``rows`` (see :func:`sft_rows`) and save a standalone model
    (with ``lora=True`` an adapter of ``minir1 train``'s default LoRA settings is trained, then merged)."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from .callbacks import ProgressBar, use_progress_bar
    from .config import TrainConfig
    from .models import gpu_has_bf16, resolve_model
    from .train import lora_config

    model_path = resolve_model(model)
    out = Path(output_dir)
    args = SFTConfig(
        output_dir=str(out / "sft-checkpoints"), num_train_epochs=epochs, learning_rate=learning_rate,
        per_device_train_batch_size=batch_size, lr_scheduler_type="cosine", logging_steps=10, save_strategy="no",
        report_to="none", seed=seed, use_cpu=not torch.cuda.is_available(),
        bf16=gpu_has_bf16(),  # as train and eval decide: emulated bf16 is not counted
        completion_only_loss=True, disable_tqdm=False, model_init_kwargs={"dtype": "float32"},
    )
    trainer = SFTTrainer(model=model_path, args=args, train_dataset=Dataset.from_list(rows),
                         peft_config=lora_config(TrainConfig(lora=lora)))
    use_progress_bar(trainer, ProgressBar("warm start", {"loss": ("loss", "{:.3f}"),
                                                         "token acc": ("mean_token_accuracy", "{:.0%}")}))
    trainer.train()
    final = trainer.model.merge_and_unload() if lora else trainer.model
    final.save_pretrained(out)
    trainer.processing_class.save_pretrained(out)
    shutil.rmtree(out / "sft-checkpoints", ignore_errors=True)
    write_json(out / MARKER, {"written_by": "minir1 warmstart", "model": str(model_path)})
    return out


def cli_warmstart(args) -> int:
    """``minir1 warmstart --model M --data D --output_dir OUT``."""
    from .callbacks import progress_bars_on
    from .train import configure_logging

    out = Path(args.output_dir)
    ours = check_replaceable(out, MARKER, args.overwrite, "a model minir1 warmstart wrote")
    problems = load_problems(args.data, limit=args.limit)
    if ours:
        shutil.rmtree(out)  # our own earlier warm start, replaced only once the new command's data has loaded
    configure_logging()
    progress_bars_on()
    path = warm_start(args.model, sft_rows(problems, args.tag_style), out, epochs=args.epochs,
                      learning_rate=args.learning_rate, batch_size=args.batch_size, lora=args.lora)
    import torch

    # the recipe whose prompt is the one it was warm-started on: the tag style's own, bare
    recipe = {"think": "mini-r1-cpu", "reasoning": "grpo-demo"}[args.tag_style]
    hint = f"minir1 train --config {recipe} --model {path}"
    if recipe == "grpo-demo" and not torch.cuda.is_available():
        hint += " --use_vllm false"  # the recipe samples with vLLM, on a GPU
    print(f"warm-started model written to {path}; train it with: {hint}")
    return 0
