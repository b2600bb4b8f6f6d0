"""minir1: teach small language models to reason with GRPO on grade-school math.

The public API, the names below, is what the quickstart notebook and the command line are built
from. Train, evaluate before and after, compare::

    from minir1 import EvalSettings, compare_evals, load_config, run_eval, run_training

    result = run_training(load_config("tiny", {"output_dir": "runs/tiny", "overwrite": True}))
    before = run_eval(EvalSettings("tiny", limit=16, max_new_tokens=64).resolve(), "runs/eval-before")
    after = run_eval(EvalSettings(adapter=str(result.run_dir), limit=16, max_new_tokens=64).resolve(),
                     "runs/eval-after")
    print(compare_evals("runs/eval-before", "runs/eval-after")["mcnemar"])

Design choices:

* **Lazy:** ``import minir1`` loads neither torch nor transformers; each name imports its module
  when first used (a module ``__getattr__``), so scripts that only score completions start instantly.
* **No name shadows a submodule:** importing ``minir1.train`` sets the attribute ``minir1.train`` to the
  submodule, so a function named ``train`` would be the function or the module depending on import
  order. Hence :func:`run_training`, :func:`ask`, :func:`export_run` and :func:`check_environment`.
"""

from __future__ import annotations

import importlib

from .errors import UserError

__version__ = "0.1.0"

# Public name -> "module:attribute" inside minir1.
_EXPORTS = {
    # problems and prompts
    "load_problems": "data:load_problems",
    "make_problems": "synthetic:make_problems",
    "build_prompt": "prompts:build_prompt",
    "format_completion": "prompts:format_completion",
    # rewards and the one answer checker
    "check": "answers:check",
    "score": "rewards:score",
    "REWARDS": "rewards:REWARDS",
    "SCHEMES": "rewards:SCHEMES",
    # models and training
    "build_tiny_model": "tiny:build_tiny_model",
    "TrainConfig": "config:TrainConfig",
    "load_config": "config:load_config",
    "sft_rows": "warmstart:sft_rows",
    "warm_start": "warmstart:warm_start",
    "run_training": "train:train",
    # generation and evaluation
    "model_spec": "models:model_spec",
    "load_for_inference": "models:load_for_inference",
    "generate": "generation:generate",
    "ask": "chat:chat",
    "EvalSettings": "evaluate:EvalSettings",
    "run_eval": "evaluate:run_eval",
    "evaluate_problems": "evaluate:evaluate_problems",
    "compare_evals": "compare:compare_evals",
    # results, sharing, setup
    "plot_rewards": "plots:plot_rewards",
    "write_plots": "plots:write_plots",
    "export_run": "export:export_run",
    "check_environment": "doctor:check_environment",
}

__all__ = [*_EXPORTS, "UserError", "__version__"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'minir1' has no attribute {name!r}")
    module, _, attribute = _EXPORTS[name].partition(":")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
