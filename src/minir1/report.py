"""Model cards, run-folder READMEs and Hub uploads for what minir1 writes.

:func:`model_card` is a pure function of the run's settings and results, so its content is tested offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import TrainConfig

TAGS = ["minir1", "grpo", "trl", "reasoning", "gsm8k"]


def model_card(cfg: TrainConfig, summary: dict, evaluation: dict | None = None, merged: bool = False) -> str:
    """The README.md of a trained adapter or model: base model, recipe, data, rewards, steps, results."""
    is_adapter = cfg.lora and not merged
    a = cfg.args  # TRL's settings
    data = "openai/gsm8k" if cfg.data.startswith("gsm8k") else cfg.data  # the Hub's name of the bundled copy
    kind = "LoRA adapter" if is_adapter else ("merged model" if merged else "fully fine-tuned model")
    lines = [
        "---", f"base_model: {cfg.model}", f"library_name: {'peft' if is_adapter else 'transformers'}", "tags:",
        *(f"  - {t}" for t in TAGS), *(["datasets:", f"  - {data}"] if "/" in data else []), "---",
        "",
        f"# {cfg.recipe or 'minir1'}: {cfg.model} trained to reason with GRPO",
        "",
        f"A {kind} trained with [minir1](https://github.com/) (GRPO through TRL) so that the model reasons inside "
        f"`<{cfg.style}>` tags and gives its final answer inside `<answer>` tags.",
        "",
        "| setting | value |",
        "| --- | --- |",
        f"| base model | `{cfg.model}` |",
        f"| recipe | `{cfg.recipe}` |",
        f"| data | `{cfg.data}`" + (f", solutions of at most {cfg.max_solution_steps} steps"
                                      if cfg.max_solution_steps else "")
        + (f" (first {cfg.data_limit})" if cfg.data_limit else "") + " |",
        f"| tag style | `{cfg.style}` |",
        "| rewards | " + ", ".join(f"`{n}` ({w:g} points)" for n, w in zip(cfg.reward_names, cfg.weights,
                                                                             strict=True)) + " |",
        f"| steps | {summary.get('steps', '?')} |",
        f"| GRPO | {a.num_generations} generations per prompt, learning rate {a.learning_rate:g}, "
        f"beta {a.beta:g}, max completion {a.max_completion_length} tokens"
        + ("" if cfg.score_truncated else " (a cut completion gets no reward)") + " |",
    ]
    if cfg.lora:
        targets = ", ".join(cfg.lora_target_modules)
        lines.append(f"| LoRA | rank {cfg.lora_r}, alpha {cfg.lora_alpha}, targets `{targets}` |")
    if final := summary.get("final_rewards"):
        span = summary.get("final_rewards_over_steps")
        where = f" (mean over steps {span[0]}–{span[1]})" if span else ""
        lines += ["", f"## Final training rewards{where}", "", "| reward | points |", "| --- | --- |"]
        for name, value in final.items():
            lines.append(f"| {name} | {value['points']:.2f} of {value['of']:g} |")
    results = evaluation or {}
    if not results and summary.get("last_eval"):
        results = {k.removeprefix("eval/"): v for k, v in summary["last_eval"].items() if k.startswith("eval/")}
    if results.get("accuracy") is not None:
        lines += ["", "## Evaluation", "",
                  f"Accuracy {100 * results['accuracy']:.1f}%"
                  + (f" (95% interval {100 * results['ci_low']:.1f}–{100 * results['ci_high']:.1f}%)"
                     if results.get("ci_low") is not None else "")
                  + (f" on {results['n']} problems" if results.get("n") else "")
                  + ", strict rule: the answer must be the single number in the `<answer>` block."]
    lines += ["", "## Use", "", "```python"]
    if is_adapter:
        lines += ["from peft import AutoPeftModelForCausalLM", "from transformers import AutoTokenizer", "",
                  'model = AutoPeftModelForCausalLM.from_pretrained("PATH_OR_REPO")',
                  f'tokenizer = AutoTokenizer.from_pretrained("{cfg.model}")']
    else:
        lines += ["from transformers import AutoModelForCausalLM, AutoTokenizer", "",
                  'model = AutoModelForCausalLM.from_pretrained("PATH_OR_REPO")',
                  'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO")']
    lines += ["```", "", "Or from the command line: `minir1 chat --adapter PATH` (adapter) or "
              "`minir1 chat --model PATH`.", ""]
    return "\n".join(lines)


def write_model_card(folder: Path, cfg: TrainConfig, summary: dict, evaluation: dict | None = None,
                     merged: bool = False) -> None:
    (Path(folder) / "README.md").write_text(model_card(cfg, summary, evaluation, merged), encoding="utf-8")


RUN_README = """# minir1 run folder

| file | what |
| --- | --- |
| `.minir1-run` | the mark that `minir1 train` wrote this folder (what makes it a run folder; see `minir1.runs`) |
| `config.yaml` | the resolved settings; `minir1 train --config config.yaml` repeats the run |
| `grpo_config.json` | every setting of TRL's `GRPOConfig` as TRL ended with it |
| `launches.jsonl` | command line, package versions and machine of each start |
| `metrics.jsonl` | one line per logged step (rewards, lengths, step time, health warnings, evaluations) |
| `samples.jsonl` | sample completions with their rewards every few steps |
| `checkpoint-N/` | checkpoints; `minir1 train --resume --output_dir THIS_FOLDER` continues from the latest |
| `final/` | the trained adapter or model, with its model card |
| `plots/` | `rewards.png` and `diagnostics.png` (`minir1 plot THIS_FOLDER` redraws them) |
| `summary.json` | steps, time, peak memory and final rewards |
"""


def write_run_readme(run: Path) -> None:
    (Path(run) / "README.md").write_text(RUN_README, encoding="utf-8")


def push_folder(folder: Path, repo_id: str, message: str) -> str:
    """Upload ``folder`` to the Hub repository ``repo_id`` (created if needed); returns its URL."""
    from huggingface_hub import HfApi

    from .errors import UserError, first_line

    api = HfApi()
    try:
        api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, commit_message=message)
    except Exception as e:  # network, auth and permission errors alike
        raise UserError(f"push to {repo_id} failed ({first_line(e)}): log in with `hf auth login` and check the "
                        f"repository name; {folder} is saved locally") from None
    return f"https://huggingface.co/{repo_id}"
