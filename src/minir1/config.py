"""Training configuration on TRL's own parser: minir1's settings beside TRL's ``GRPOConfig``.

Two dataclasses hold every setting. :class:`TrainConfig` is what is minir1's own
(model and LoRA, data, prompts, rewards, samples, evaluation during training, health,
plots, the final Hub push, run control); TRL's ``GRPOConfig`` holds every TRL setting
under TRL's name and type. TRL's ``TrlParser`` turns text into typed values for both,
so a recipe and the command line share one flat set of names, and the layers are

    TRL's defaults < minir1's choices (:data:`TRL_DEFAULTS`) < recipe < overrides < command line

    >>> cfg = load_config("tiny", ["--max_steps", "3", "--lora", "false", "--top_k", "50"])
    >>> cfg.lora, cfg.trl["max_steps"], cfg.trl["top_k"]
    (False, 3, 50)

A recipe is a bundled name (``tiny``) or a path ending in ``.yaml``/``.yml``, so a name
never picks up a file of the current folder. Recipe values and override dicts go through
the same parser as the command line. :func:`validate` checks everything in plain words
and returns the ``GRPOConfig`` TRL built (after its own ``__post_init__``): the object
the trainer receives. A run folder saves both (:func:`save_config`, ``grpo_config.json``);
:func:`load_run` reads them back without importing TRL.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import json
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from . import runs
from .errors import UserError
from .rewards import get_scheme

REPORT_TO = ("none", "tensorboard", "wandb", "trackio")


def _f(default, help: str):
    if isinstance(default, list):
        return field(default_factory=lambda d=default: list(d), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """minir1's own settings; ``trl`` holds TRL's. Field help texts are the ``minir1 train --help`` text."""

    # --- run -------------------------------------------------------------------------------
    recipe: str | None = _f(None, "name of the recipe these settings came from (set by --config)")
    overwrite: bool = _f(False, "replace output_dir if it is a minir1 run folder (checked first)")
    resume: bool = _f(False, "continue the run in output_dir from its latest checkpoint, with its saved settings")

    # --- model and LoRA --------------------------------------------------------------------
    model: str = _f("Qwen/Qwen2.5-0.5B-Instruct", "Hub id, local folder, or 'tiny' (offline tiny model)")
    lora: bool = _f(True, "train a LoRA adapter (false: full fine-tuning)")
    lora_r: int = _f(16, "LoRA rank")
    lora_alpha: int = _f(32, "LoRA alpha")
    # 0, not the 0.05 of LoRA examples: dropout makes the log-probabilities GRPO trains on differ from those of
    # the policy that sampled; its cost in step time is the BENCHMARKS.md row seeds-no-dropout against seeds.
    lora_dropout: float = _f(0.0, "LoRA dropout (0 keeps training log-probs equal to sampling's)")
    lora_target_modules: list[str] = _f(["all-linear"], "modules that get LoRA adapters")

    # --- data and prompts ------------------------------------------------------------------
    data: str = _f("gsm8k:train", "gsm8k:train, a .jsonl/.json/.parquet/.csv file, or a Hub id[:split]")
    data_limit: int | None = _f(None, "use only the first N problems (None: all)")
    question_field: str = _f("question", "field holding the question")
    answer_field: str = _f("answer", "field holding the gold answer or a solution ending '#### N'")
    tag_style: str | None = _f(None, "think or reasoning; default: the scheme's style")
    system_prompt: str | None = _f(None, "system prompt; default: the tag style's own")
    prefill: str | None = _f(None, "text that opens the assistant turn, e.g. '<think>\\n'; rewards judge "
                                   "prefill + completion")

    # --- rewards (their weights are TRL's reward_weights) ----------------------------------
    scheme: str = _f("mini-r1", "reward scheme: mini-r1 (13 + 10 points) or grpo-demo")
    rewards: list[str] | None = _f(None, "reward names, built-in or module.path:function; default: the scheme's")

    # --- samples, evaluation during training, health, plots, Hub ---------------------------
    sample_every: int = _f(10, "write sample completions to samples.jsonl every N steps (0: never)")
    num_samples: int = _f(4, "completions written per sampling step")
    eval_every: int = _f(0, "evaluate on held-out problems every N steps (0: never)")
    eval_data: str = _f("gsm8k:test", "held-out problems for evaluation during training")
    eval_limit: int | None = _f(64, "held-out problems evaluated each time (None: all)")
    health_window: int = _f(50, "steps the slow health warnings compare (format saturated, correctness flat)")
    plot: bool = _f(True, "write plots at the end of training")
    push_final_to: str | None = _f(None, "Hub repository (you/name) that gets the final adapter or model and its "
                                         "card (TRL's push_to_hub pushes checkpoints instead)")

    # --- not parsed ------------------------------------------------------------------------
    trl: dict = field(default_factory=dict, init=False, repr=False)  # every GRPOConfig field, by TRL's name
    given: frozenset = field(default_factory=frozenset, init=False, repr=False)  # keys the recipe or user set

    @property
    def style(self) -> str:
        return self.tag_style or get_scheme(self.scheme)["style"]

    @property
    def reward_names(self) -> list[str]:
        return list(self.rewards) if self.rewards is not None else list(get_scheme(self.scheme)["rewards"])

    @property
    def weights(self) -> list[float]:
        """TRL's reward_weights: as given, else the scheme's weight of each reward (1 for one it lacks)."""
        if self.trl.get("reward_weights") is not None:
            return [float(w) for w in self.trl["reward_weights"]]
        scheme = get_scheme(self.scheme)["rewards"]
        return [float(scheme.get(name, 1.0)) for name in self.reward_names]

    @property
    def reward_points(self) -> dict[str, float]:
        """Metric key of each reward and its weight in points, e.g. ``{"format_rubric": 13.0, ...}``."""
        from .rewards import reward_key

        return {reward_key(n): w for n, w in zip(self.reward_names, self.weights, strict=True)}

    @property
    def run_dir(self) -> Path:
        return Path(self.trl.get("output_dir") or Path("runs") / (self.recipe or "run"))

    def resolved(self) -> dict:
        """What a run saves as ``config.yaml``: a recipe that repeats the run.

        minir1's settings with derived values filled in, then every TRL setting that differs from what loading
        the file would fill in (TRL's default under minir1's choice), so reading it back gives the same run.
        """
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        out.update(tag_style=self.style, rewards=self.reward_names, overwrite=False, resume=False)
        defaults = {**_defaults(_grpo_config_class()), **TRL_DEFAULTS}
        out.update({k: v for k, v in self.trl.items() if v != defaults.get(k)})
        return out


# --- minir1's choices for TRL settings: between TRL's defaults and the recipe -----------------

TRL_DEFAULTS = {
    # LoRA needs about ten times full fine-tuning's rate, and TRL's default (1e-6) is a full fine-tuning rate.
    "learning_rate": 1e-5,
    "lr_scheduler_type": "constant_with_warmup",
    "num_train_epochs": 1.0,  # one pass over the problems, unless max_steps says otherwise
    "per_device_train_batch_size": 8,  # completions, so one prompt's group of 8 per micro-batch
    "num_generations": 8,
    "max_completion_length": 256,
    "beta": 0.0,  # no KL term, so no reference model in memory
    "loss_type": "dapo",  # pinned: a TRL release that changes its default must not change minir1 runs silently
    "logging_steps": 1,  # every step lands in metrics.jsonl, the progress bar and the plots
    "save_steps": 50,
    "save_total_limit": 2,
    # TRL turns checkpointing on (gradient_checkpointing=True, its alias of this field); recomputing every
    # activation is for memory, not speed (BENCHMARKS.md rows minir1 and minir1+checkpointing).
    "activation_checkpointing": False,
    # Checkpoints keep the optimizer and scheduler state (LoRA saves only the adapter), so resume is exact.
    "save_only_model": False,
    # Every trainable parameter takes part in every forward pass; searching for unused ones costs an extra
    # traversal of the autograd graph per step under DDP.
    "ddp_find_unused_parameters": False,
    # TRL hides tqdm when logging is quieter than WARN; minir1 swaps in its own bar (callbacks.ProgressBar).
    "disable_tqdm": False,
}


def _derive(cfg: TrainConfig) -> None:
    """Values that follow from others: computed here once, never stored twice."""
    trl = cfg.trl
    if trl["output_dir"] is None:
        trl["output_dir"] = str(Path("runs") / (cfg.recipe or "run"))
    if trl["reward_weights"] is None:
        trl["reward_weights"] = cfg.weights
    # Device and precision, for what the user left unset. Without CUDA, use_cpu: transformers then sets up
    # the gloo process group that torchrun on a CPU needs. bf16 where the GPU has it, else fp32 (TRL's own
    # default, bf16, is refused on a CPU).
    if "use_cpu" not in cfg.given:
        trl["use_cpu"] = not _has_cuda()
    if trl["bf16"] is None and not trl["fp16"]:
        trl["bf16"] = _has_cuda() and _gpu_has_bf16()
    if trl["model_init_kwargs"] is None:  # TRL loads weights in fp32 unless told; match the precision
        trl["model_init_kwargs"] = {"dtype": "bfloat16" if trl["bf16"] else "float16" if trl["fp16"] else "float32"}
    # gradient_checkpointing is TRL's deprecated alias of activation_checkpointing, and the new name wins in
    # TRL: a user who writes the old name gets it, not minir1's default under the new one.
    if "gradient_checkpointing" in cfg.given:
        if "activation_checkpointing" not in cfg.given:
            trl["activation_checkpointing"] = trl["gradient_checkpointing"]
        elif trl["activation_checkpointing"] != trl["gradient_checkpointing"]:
            raise UserError("gradient_checkpointing and activation_checkpointing disagree: they are one setting "
                            "(the first is TRL's old name), so set only activation_checkpointing")
    trl["gradient_checkpointing"] = trl["activation_checkpointing"]


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _gpu_has_bf16() -> bool:
    from .models import gpu_has_bf16

    return gpu_has_bf16()


# --- parsing ----------------------------------------------------------------------------------

# Names a user may know from older TRL/transformers or older minir1, and what replaced them.
RENAMED = {
    "warmup_ratio": "warmup_steps (a value below 1 is a fraction of the training steps, e.g. --warmup_steps 0.1)",
    "max_prompt_length": "nothing: TRL no longer truncates prompts",
    "trl_args": "top-level settings: every GRPOConfig field is set by its own name (e.g. top_k: 50)",
    "push_to_hub_final": "push_final_to",
    "hub_model_id_final": "push_final_to",
}


def _grpo_config_class():
    from trl import GRPOConfig

    return GRPOConfig


def _defaults(cls) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        if f.init:
            out[f.name] = f.default_factory() if f.default is dataclasses.MISSING else f.default
    return out


@functools.cache
def _parser(for_help: bool = False):
    """TRL's parser over both dataclasses, with ``--config``. Unless for help, every default is left out, so a
    parse returns only what its text set (the layers are merged in :func:`_build`)."""
    from trl import TrlParser

    class Parser(TrlParser):
        def error(self, message):  # argparse would print usage and exit; minir1 reports one line
            raise UserError(message)

    parser = Parser((TrainConfig, _grpo_config_class()), prog="minir1 train", allow_abbrev=False, add_help=False)
    parser.add_argument("--config", help="a bundled recipe name, or a recipe path ending in .yaml")
    if not for_help:
        for action in parser._actions:
            action.default = argparse.SUPPRESS
    return parser


@functools.cache
def _actions() -> dict:
    out = {}
    for a in _parser()._actions:
        out.setdefault(a.dest, a)  # the field's own action, before its --no_X twin
    return out


def _unknown(key: str, where: str) -> UserError:
    if key in RENAMED:
        return UserError(f"{where}: {key!r} is not a setting any more: use {RENAMED[key]}")
    close = difflib.get_close_matches(key, [k for k in _actions() if k != "help"], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else " (see minir1 train --help-all)"
    return UserError(f"{where}: unknown setting {key!r}{hint}")


def _parse(tokens: list[str], where: str) -> dict:
    """``['--max_steps', '3', '--lora=false']`` -> ``{'max_steps': 3, 'lora': False}``, typed by the parser."""
    try:
        ns, extra = _parser().parse_known_args(tokens)
    except UserError as e:
        raise UserError(f"{where}: {e}") from None
    for token in extra:
        if token.startswith("-"):
            raise _unknown(token.lstrip("-").partition("=")[0].replace("-", "_"), where)
        raise UserError(f"{where}: unexpected argument {token!r}: settings are written --name value")
    return vars(ns)


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _typed(values: dict, where: str) -> dict:
    """Recipe or override values, checked and converted by the same parser as the command line.

    Each becomes ``--name=value`` (lists: ``--name a b``); what text cannot carry (null, a mapping, a list for a
    field TRL types as one value, such as report_to) passes unchanged.
    """
    actions = _actions()
    tokens, as_is = [], {}
    for key, value in values.items():
        if key not in actions or key == "config":
            raise _unknown(key, where)
        if value is None or isinstance(value, dict):
            as_is[key] = value
        elif actions[key].nargs in ("+", "*"):
            tokens += [f"--{key}", *map(_text, value if isinstance(value, list) else [value])]
        elif isinstance(value, list):
            as_is[key] = value
        else:
            tokens.append(f"--{key}={_text(value)}")
    return {**_parse(tokens, where), **as_is}


def recipe_path(recipe: str) -> Path:
    """A recipe's YAML file: a path when it ends in .yaml or .yml, else a bundled recipe's name."""
    if recipe.endswith((".yaml", ".yml")):
        path = Path(recipe).expanduser()
        if not path.is_file():
            raise UserError(f"recipe file not found: {recipe}")
        return path
    if recipe not in list_recipes():
        hint = f"; to use the file {recipe}, name it with .yaml" if Path(recipe).exists() else ""
        raise UserError(f"unknown recipe {recipe!r}: choose one of {', '.join(list_recipes())}, or give a path "
                        f"ending in .yaml{hint}")
    return Path(str(resources.files("minir1") / "recipes" / f"{recipe}.yaml"))


def list_recipes() -> list[str]:
    root = Path(str(resources.files("minir1") / "recipes"))
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))


def read_recipe(recipe: str) -> dict:
    """A recipe's settings, typed and checked (its name becomes ``recipe`` unless it names one)."""
    path = recipe_path(recipe)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UserError(f"recipe {path}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None
    if not isinstance(loaded, dict):
        raise UserError(f"recipe {path}: expected a mapping of settings")
    values = _typed(loaded, f"recipe {path}")
    values.setdefault("recipe", path.stem)
    return values


def load_config(recipe: str | None = None, overrides: list[str] | dict | None = None) -> TrainConfig:
    """Defaults, then the recipe, then overrides: a ``--name value`` list or a dict of typed values.

    TRL's settings are in ``cfg.trl`` (``cfg.trl["max_completion_length"]``); :func:`validate` builds the
    ``GRPOConfig`` from them.
    """
    asked = read_recipe(recipe) if recipe else {}
    if isinstance(overrides, dict):
        asked = _over(asked, _typed(overrides, "settings"))
    elif overrides:
        given = _parse(list(overrides), "command line")
        if "config" in given:
            raise UserError("give the recipe as load_config's first argument, not as --config")
        asked = _over(asked, given)
    return _build(asked)


ALIASES = ("gradient_checkpointing", "activation_checkpointing")  # TRL's old and new names of one setting


def _over(lower: dict, upper: dict) -> dict:
    """``upper``'s settings over ``lower``'s: a setting given under one of its two names replaces it under both."""
    lower = dict(lower)
    if any(a in upper for a in ALIASES):
        for a in ALIASES:
            lower.pop(a, None)
    return {**lower, **upper}


def from_command_line(argv: list[str]) -> TrainConfig:
    """``minir1 train`` settings: ``--config RECIPE`` (or ``--resume`` and a run folder) and ``--name value``s.

    With ``--resume`` the settings are the run's own ``config.yaml`` (the run is ``--output_dir``, or
    ``runs/<recipe>``); what the command line may still change is checked against the run by
    :func:`minir1.train.train` (:data:`RESUMABLE`).
    """
    given = _parse(list(argv), "command line")
    recipe = given.pop("config", None)
    if given.get("resume"):
        run = given.get("output_dir") or (str(Path("runs") / Path(recipe).stem) if recipe else None)
        if run is None:
            raise UserError("--resume needs the run: minir1 train --resume --output_dir RUN_DIR")
        runs.require_run(run, "nothing to resume there (drop --resume to start a new run)")
        recipe, given["output_dir"] = str(Path(run) / runs.CONFIG), run
    elif recipe is None:
        raise UserError("no recipe: pass --config mini-r1 (or grpo-demo, tiny, or a path ending in .yaml)")
    return _build(_over(read_recipe(recipe), given))


def _build(asked: dict) -> TrainConfig:
    values = {**_defaults(TrainConfig), **_defaults(_grpo_config_class()), **TRL_DEFAULTS, **asked}
    cfg = TrainConfig(**{f.name: values.pop(f.name) for f in dataclasses.fields(TrainConfig) if f.init})
    cfg.trl, cfg.given = values, frozenset(asked)
    _derive(cfg)
    return cfg


def save_config(cfg: TrainConfig, path: Path, command: str | None = None) -> None:
    """Write the resolved settings as YAML, headed by the command that produced them."""
    head = f"# {command}\n" if command else ""
    path.write_text(head + yaml.safe_dump(cfg.resolved(), sort_keys=False, allow_unicode=True), encoding="utf-8")


def load_run(run_dir: str | os.PathLike) -> TrainConfig:
    """A run folder's settings, as saved, without TRL: minir1's from ``config.yaml``, TRL's from
    ``grpo_config.json`` (what TRL ended with), falling back to the TRL settings ``config.yaml`` names."""
    saved, trl_final = runs.read_settings(run_dir)
    mine = {f.name for f in dataclasses.fields(TrainConfig) if f.init}
    cfg = TrainConfig(**{k: v for k, v in saved.items() if k in mine})
    cfg.trl = {**{k: v for k, v in saved.items() if k not in mine}, **trl_final}
    return cfg


# --- validation -------------------------------------------------------------------------------


def world_size() -> int:
    """Processes in this run (set by torchrun and accelerate launch)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True in the one process that writes the run folder."""
    return int(os.environ.get("RANK", "0")) == 0


def _number(name: str, value, low: float | None = None, *, above: bool = False, high: float | None = None,
            below: bool = False, hint: str = "") -> None:
    """Refuse NaN, infinity and values outside [low, high] (or (low, ...) with ``above``), in one line."""
    ok = isinstance(value, (int, float)) and math.isfinite(value)
    ok = ok and (low is None or (value > low if above else value >= low))
    ok = ok and (high is None or (value < high if below else value <= high))
    if not ok:
        lo = "" if low is None else (f"above {low:g}" if above else f"at least {low:g}")
        hi = "" if high is None else (f"below {high:g}" if below else f"at most {high:g}")
        bounds = " and ".join(x for x in (lo, hi) if x)
        raise UserError(f"{name} must be {'a number ' + bounds if bounds else 'a finite number'}, got {value}{hint}")


def validate(cfg: TrainConfig):
    """Check every setting in plain words, then let TRL check its own; return the ``GRPOConfig`` TRL built.

    What ``GRPOConfig`` itself refuses (a single generation per prompt, a generation batch that is not a whole
    number of groups or of global batches) is left to it, its message reported in one line.

    Nothing is loaded or written: data, model and the run folder are checked by :func:`minir1.train.train`
    before it creates anything.
    """
    from .prompts import get_style
    from .rewards import resolve

    t = cfg.trl
    get_scheme(cfg.scheme)
    get_style(cfg.style)
    if cfg.rewards is not None and not cfg.rewards:
        raise UserError("rewards is empty: name at least one reward, e.g. --rewards correctness")
    if "reward_weights" in cfg.given and cfg.rewards is None and len(cfg.weights) != len(cfg.reward_names):
        raise UserError(
            f"got {len(cfg.weights)} reward weights for the {len(cfg.reward_names)} rewards of scheme "
            f"{cfg.scheme!r} ({', '.join(cfg.reward_names)}): give one weight per reward"
        )
    resolve(cfg.reward_names, cfg.weights)
    for w in cfg.weights:
        _number("each reward weight", w)
    # whole numbers TRL would divide by before its own checks (0 or null would be a traceback there)
    positive = ("per_device_train_batch_size", "gradient_accumulation_steps", "num_generations", "num_iterations",
                "health_window")
    for name in positive:
        value = t[name] if name in t else getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{name} must be at least 1, got {value}")
    if t["max_steps"] == 0 or t["max_steps"] < -1:
        raise UserError(f"max_steps must be at least 1, or -1 to train for num_train_epochs; got {t['max_steps']}")
    if t["max_steps"] == -1:
        _number("num_train_epochs", t["num_train_epochs"], 0, above=True, hint=" (or set max_steps)")
    if t["max_completion_length"] is None or t["max_completion_length"] < 16:
        raise UserError(
            f"max_completion_length {t['max_completion_length']} is too short for reasoning plus an answer "
            "block: use at least 16 (256 to 1024 is typical)"
        )
    _number("learning_rate", t["learning_rate"], 0, above=True)
    _number("temperature", t["temperature"], 0, above=True, hint=" (use a small value like 0.1 for near-greedy)")
    _number("top_p", t["top_p"], 0, above=True, high=1)
    _number("beta (the KL coefficient)", t["beta"], 0)
    _number("epsilon (the clipping range)", t["epsilon"], 0)
    _number("max_grad_norm", t["max_grad_norm"], 0, hint=" (0 turns clipping off)")
    _number("warmup_steps", t["warmup_steps"], 0, hint=" (a value below 1 is a fraction of the steps)")
    _number("weight_decay", t["weight_decay"], 0)
    _number("logging_steps", t["logging_steps"], 0, above=True)
    _number("save_steps", t["save_steps"], 0, above=True)
    if t["top_k"] < 0:
        raise UserError(f"top_k must be 0 (off) or a positive number of tokens, got {t['top_k']}")
    if cfg.lora:
        if cfg.lora_r < 1 or cfg.lora_alpha < 1:
            raise UserError("lora_r and lora_alpha must be at least 1 (or set --lora false for full fine-tuning)")
        _number("lora_dropout", cfg.lora_dropout, 0, high=1, below=True)
    for name in ("data_limit", "eval_limit"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise UserError(f"{name} must be at least 1, got {value} (leave it unset, or null, for all problems)")
    for name in ("sample_every", "eval_every", "num_samples"):
        if getattr(cfg, name) < 0:
            raise UserError(f"{name} cannot be negative, got {getattr(cfg, name)} (0 turns it off)")
    _check_trackers(t["report_to"])
    _check_vllm(cfg)
    _check_sharding(cfg)
    if cfg.push_final_to is not None and cfg.push_final_to.count("/") != 1:
        raise UserError(f"push_final_to must be a Hub repository id like you/model, got {cfg.push_final_to!r}")
    return _grpo_config(cfg)


def _grpo_config(cfg: TrainConfig):
    """TRL's ``GRPOConfig`` from ``cfg.trl``; TRL's own refusals become one line."""
    try:
        return _grpo_config_class()(**cfg.trl)
    except (ValueError, TypeError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"TRL refused the settings: {reason}") from None


def _check_trackers(report_to) -> None:
    import importlib.util

    trackers = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for t in trackers:
        if t not in REPORT_TO and t != "all":
            raise UserError(f"report_to {t!r} is not one of {', '.join(REPORT_TO)}")
        if t == "tensorboard":  # transformers writes events through either package
            found = any(importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorboardX"))
        else:
            found = t in ("none", "all") or importlib.util.find_spec(t) is not None
        if not found:
            raise UserError(f"report_to {t} needs the {t} package: pip install {t} (or set --report_to none)")


def _check_vllm(cfg: TrainConfig) -> None:
    t = cfg.trl
    if not t["use_vllm"]:
        return
    if t["vllm_mode"] not in ("colocate", "server"):
        raise UserError(f"vllm_mode must be colocate or server, got {t['vllm_mode']!r}")
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise UserError("use_vllm is on but vLLM is not installed: pip install 'minir1[vllm]' (needs a CUDA GPU), "
                        "or set --use_vllm false")
    if t["vllm_mode"] == "colocate" and not 0 < t["vllm_gpu_memory_utilization"] < 1:
        raise UserError("vllm_gpu_memory_utilization must be between 0 and 1 (0.3 leaves room for training)")
    if t["vllm_mode"] == "server":
        import socket

        host, port = t["vllm_server_host"], t["vllm_server_port"]
        launch = f"`CUDA_VISIBLE_DEVICES=1 trl vllm-serve --model {cfg.model} --port {port}` on the generation GPU(s)"
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError:
            raise UserError(f"no vLLM server at {host}:{port}: start one with {launch}, or set --vllm_mode "
                            "colocate") from None
        served = _served_model(host, port)
        if served is not None and not _same_model(served, cfg.model):
            raise UserError(f"the vLLM server at {host}:{port} serves {served!r} but training uses {cfg.model!r}: "
                            f"restart it with {launch}")


def _served_model(host: str, port: int) -> str | None:
    """The model a vLLM (OpenAI-compatible) server names at /v1/models, or None if it does not say."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{host}:{port}/v1/models", timeout=3) as r:
            return json.load(r)["data"][0]["id"]
    except (OSError, ValueError, KeyError, IndexError):
        return None


def _same_model(served: str, model: str) -> bool:
    # A server started from a local folder reports the path it was given; compare resolved paths then.
    if served == model:
        return True
    a, b = Path(served).expanduser(), Path(model).expanduser()
    return a.exists() and b.exists() and a.resolve() == b.resolve()


def _check_sharding(cfg: TrainConfig) -> None:
    """Evaluation during training generates on the main process alone: impossible with sharded weights."""
    zero3 = os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3"
    fsdp = os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")
    if cfg.eval_every and (zero3 or fsdp):
        raise UserError(f"eval_every needs whole weights on the main process, but {'ZeRO-3' if zero3 else 'FSDP'} "
                        "shards them: set --eval_every 0 and run minir1 eval on the checkpoints")


# --- help -------------------------------------------------------------------------------------


def settings_help(everything: bool = False) -> str:
    """``minir1 train --help``: minir1's settings and minir1's choices for TRL's; ``--help-all``: every field."""
    if everything:
        return _parser(for_help=True).format_help()
    from trl import TrlParser

    parser = TrlParser(TrainConfig, prog="minir1 train", add_help=False, usage=(
        "minir1 train --config RECIPE [--setting value ...]\n       minir1 train --resume --output_dir RUN_DIR"),
        description="RECIPE is a bundled recipe (" + ", ".join(list_recipes()) + ") or a path ending in .yaml. "
                    "Every setting, minir1's below and every TRL GRPOConfig field, can be set in a recipe or on "
                    "the command line (--name value, lists as --name a b, booleans true/false).")
    trl_defaults = {**_defaults(_grpo_config_class()), "activation_checkpointing": "true, as gradient_checkpointing"}
    choices = "\n".join(f"  --{k} {_text(v)}  (TRL's: {_text(trl_defaults[k])})" for k, v in TRL_DEFAULTS.items())
    return (parser.format_help() + "\nTRL settings minir1 chooses (between TRL's defaults and the recipe):\n" + choices
            + "\n  --use_cpu true without CUDA; --bf16 true on a GPU with bf16, else false; model_init_kwargs"
            + " {dtype: ...} to match (on a CPU: bf16 for the frozen base of a LoRA run on a bf16-saved model where the"
            + " CPU has bf16 instructions, else fp32)\n"
            + f"\nEvery GRPOConfig field ({len(trl_defaults)} of them, e.g. --num_train_epochs 1, --warmup_steps 0.1, "
            "--top_k 50, --log_completions true): minir1 train --help-all\n")
