"""Training settings: :class:`GRPOSettings` (TRL's ``GRPOConfig`` with minir1's defaults), which the trainer
receives as ``cfg.args``, beside :class:`TrainConfig` (minir1's own). ``TrlParser`` fills both from one flat set of
names, in layers: TRL's defaults < minir1's < recipe < overrides < command line. Each dataclass checks its values
when built; :func:`minir1.machine.validate` checks what depends on the machine.

    >>> cfg = load_config("tiny", ["--max_steps", "3", "--lora", "false", "--top_k", "50"])
    >>> cfg.lora, cfg.args.max_steps, cfg.args.top_k
    (False, 3, 50)
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers.trainer_utils import SchedulerType
from trl import GRPOConfig, TrlParser

from . import models
from .errors import UserError, check_number, check_whole, first_line
from .prompts import get_style
from .recipes import read_recipe, recipe_path
from .rewards import DEFAULT_SCHEME, chosen_rewards, get_scheme, resolve, reward_key

ALIASES = ("gradient_checkpointing", "activation_checkpointing")  # TRL's old and new names of one setting
# Set by minir1 when the user leaves them unset; saved in the run so that a resume keeps them.
DERIVED = ("output_dir", "use_cpu", "bf16", "model_init_kwargs", "reward_weights", *ALIASES)


def _f(default, help: str):
    if isinstance(default, list):
        return field(default_factory=lambda d=default: list(d), metadata={"help": help})
    return field(default=default, metadata={"help": help})


def _trl(name: str, default):
    """A GRPOConfig field with minir1's default and TRL's help text (a bare ``--name`` flag means true)."""
    flag = {"nargs": "?", "const": True} if default is None and name in ("use_cpu", "gradient_checkpointing") else {}
    return field(default=default, metadata={**GRPOConfig.__dataclass_fields__[name].metadata, **flag})


@dataclass
class GRPOSettings(GRPOConfig):
    """TRL's ``GRPOConfig`` with minir1's defaults; every other field and check is TRL's."""

    # LoRA needs about ten times full fine-tuning's rate, and TRL's default (1e-6) is a full fine-tuning rate.
    learning_rate: float = _trl("learning_rate", 1e-5)
    lr_scheduler_type: SchedulerType | str = _trl("lr_scheduler_type", "constant_with_warmup")
    num_train_epochs: float = _trl("num_train_epochs", 1.0)  # one pass, unless max_steps says otherwise
    per_device_train_batch_size: int = _trl("per_device_train_batch_size", 8)  # one prompt's group of 8
    num_generations: int | None = _trl("num_generations", 8)
    max_completion_length: int | None = _trl("max_completion_length", 256)
    beta: float = _trl("beta", 0.0)  # no KL term, so no reference model in memory
    loss_type: str = _trl("loss_type", "dapo")  # pinned: a change of TRL's default must not change minir1 runs
    logging_steps: float = _trl("logging_steps", 1)  # every step in metrics.jsonl, the bar and the plots
    save_steps: float = _trl("save_steps", 50)
    save_total_limit: int | None = _trl("save_total_limit", 2)
    # Checkpoints keep the optimizer and scheduler state (LoRA saves only the adapter), so resume is exact.
    save_only_model: bool = _trl("save_only_model", False)
    # every trainable parameter takes part in every forward pass: no search for unused ones under DDP
    ddp_find_unused_parameters: bool | None = _trl("ddp_find_unused_parameters", False)
    # TRL hides tqdm when logging is quieter than WARN; minir1 swaps in its own bar (callbacks.ProgressBar).
    disable_tqdm: bool | None = _trl("disable_tqdm", False)
    # Unset means: chosen in __post_init__ (device, precision, checkpointing off).
    use_cpu: bool | None = _trl("use_cpu", None)
    gradient_checkpointing: bool | None = _trl("gradient_checkpointing", None)

    def __post_init__(self):
        # whole numbers TRL divides by before its own checks (0 or None would be a traceback there)
        for name in ("per_device_train_batch_size", "gradient_accumulation_steps", "num_generations",
                     "num_iterations"):
            check_whole(name, getattr(self, name))
        if self.max_steps == 0 or self.max_steps < -1:
            raise UserError(f"max_steps must be at least 1, or -1 to train for num_train_epochs; got {self.max_steps}")
        if self.max_steps == -1:
            check_number("num_train_epochs", self.num_train_epochs, 0, above=True, hint=" (or set max_steps)")
        if self.max_completion_length is None or self.max_completion_length < 16:
            raise UserError(f"max_completion_length {self.max_completion_length} is too short for reasoning plus an "
                            "answer block: use at least 16 (256 to 1024 is typical)")
        check_number("learning_rate", self.learning_rate, 0, above=True)
        check_number("temperature", self.temperature, 0, above=True,
                     hint=" (use a small value like 0.1 for near-greedy)")
        check_number("top_p", self.top_p, 0, above=True, high=1)
        for name, label, hint in (("beta", " (the KL coefficient)", ""), ("epsilon", " (the clipping range)", ""),
                                  ("max_grad_norm", "", " (0 turns clipping off)"),
                                  ("warmup_steps", "", " (a value below 1 is a fraction of the steps)"),
                                  ("weight_decay", "", "")):
            check_number(name + label, getattr(self, name), 0, hint=hint)
        for name in ("logging_steps", "save_steps"):
            check_number(name, getattr(self, name), 0, above=True)
        check_whole("top_k", self.top_k, 0, " (0 is off, else a number of tokens)")
        if isinstance(self.reward_weights, (int, float)):
            self.reward_weights = [self.reward_weights]
        # Device and precision: without CUDA, use_cpu (transformers then sets up the gloo process group torchrun
        # needs on a CPU); bf16 where the GPU has it, else fp32 (TRL's own default, bf16, is refused on a CPU);
        # weights loaded in that precision (TRL loads fp32 unless told).
        if self.use_cpu is None:
            self.use_cpu = not _has_cuda()
        if self.bf16 is None and not self.fp16:
            self.bf16 = models.gpu_has_bf16()
        if self.model_init_kwargs is None:
            self.model_init_kwargs = {"dtype": "bfloat16" if self.bf16 else "float16" if self.fp16 else "float32"}
        # Recomputing every activation is for memory, not speed (BENCHMARKS.md rows minir1 and
        # minir1+checkpointing): off unless asked, under either of its two names.
        new, old = self.activation_checkpointing, self.gradient_checkpointing
        if None not in (new, old) and new != old:
            raise UserError("gradient_checkpointing and activation_checkpointing disagree: they are one setting "
                            "(the first is TRL's old name), so set only activation_checkpointing")
        self.activation_checkpointing = self.gradient_checkpointing = bool(old if new is None else new)
        try:
            super().__post_init__()
        except (ValueError, TypeError) as e:
            raise UserError(f"TRL refused the settings: {first_line(e, 1000)}") from None


def _has_cuda() -> bool:
    return torch.cuda.is_available()


def defaults(cls) -> dict:
    return {f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default
            for f in dataclasses.fields(cls) if f.init}


TRL_DEFAULTS = {k: v for k, v in defaults(GRPOSettings).items() if v != defaults(GRPOConfig)[k] and v is not None}


@dataclass
class TrainConfig:
    """minir1's own settings; ``args`` is TRL's. Field help texts are the ``minir1 train --help`` text."""

    # --- run -------------------------------------------------------------------------------
    recipe: str | None = _f(None, "name of the recipe these settings came from (set by --config)")
    overwrite: bool = _f(False, "replace output_dir if it is a minir1 run folder (checked first)")
    resume: bool = _f(False, "continue the run in output_dir from its latest checkpoint, with its saved settings")

    # --- model and LoRA --------------------------------------------------------------------
    model: str = _f(models.BASE_MODEL, "Hub id, local folder, or 'tiny' (offline tiny model)")
    lora: bool = _f(True, "train a LoRA adapter (false: full fine-tuning)")
    lora_r: int = _f(16, "LoRA rank")
    lora_alpha: int = _f(32, "LoRA alpha")
    # 0, not the 0.05 of LoRA examples: dropout makes the log-probabilities GRPO trains on differ from those of
    # the policy that sampled; its cost in step time is the BENCHMARKS.md row seeds-no-dropout against seeds.
    lora_dropout: float = _f(0.0, "LoRA dropout (0 keeps training log-probs equal to sampling's)")
    lora_target_modules: list[str] = _f(["all-linear"], "modules that get LoRA adapters")

    # --- data and prompts ------------------------------------------------------------------
    data: str = _f("gsm8k:train", "gsm8k:train, a .jsonl/.json/.parquet/.csv file, or a Hub id[:split]")
    data_limit: int | None = _f(None, "use only the first N problems (of those max_solution_steps keeps; None: all)")
    max_solution_steps: int | None = _f(None, "train only on the problems whose worked solution (GSM8K's, steps "
                                             "then '#### answer') has at most N lines of steps, the easier ones "
                                             "(None: all; every row of --data is read and checked)")
    question_field: str = _f("question", "field holding the question (in --data, and in --eval_data unless that "
                                         "is GSM8K)")
    answer_field: str = _f("answer", "field holding the gold answer or a solution ending '#### N' (as "
                                     "--question_field)")
    tag_style: str | None = _f(None, "think or reasoning; default: the scheme's style")
    system_prompt: str | None = _f(None, "system prompt; default: the tag style's own")
    prefill: str | None = _f(None, "text that opens the assistant turn, e.g. '<think>\\n'; rewards judge "
                                   "prefill + completion")

    # --- rewards (their weights are TRL's reward_weights) ----------------------------------
    scheme: str = _f(DEFAULT_SCHEME, "reward scheme: mini-r1 (13 + 10 points) or grpo-demo")
    rewards: list[str] | None = _f(None, "reward names, built-in or module.path:function; default: the scheme's")
    score_truncated: bool = _f(True, "false: a completion cut at max_completion_length gets no reward (None from "
                                     "every reward), so TRL leaves it out of its group's mean and spread and gives it "
                                     "advantage 0 (with mask_truncated_completions true, it leaves the loss too)")

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
    args: GRPOSettings | None = field(default=None, init=False, repr=False)  # TRL's settings, typed
    asked: dict = field(default_factory=dict, init=False, repr=False)  # what the recipe or user set, typed

    def __post_init__(self):
        for name in ("lora_target_modules", "rewards"):  # one name in a recipe is a list of one
            if isinstance(getattr(self, name), str):
                setattr(self, name, [getattr(self, name)])
        chosen_rewards(self.scheme, self.rewards)  # an unknown scheme, or no rewards, is an error here
        get_style(self.style)
        if self.lora:
            if self.lora_r < 1 or self.lora_alpha < 1:
                raise UserError("lora_r and lora_alpha must be at least 1 (or set --lora false for full fine-tuning)")
            check_number("lora_dropout", self.lora_dropout, 0, high=1, below=True)
        for name in ("data_limit", "eval_limit", "max_solution_steps"):
            if getattr(self, name) is not None:
                check_whole(name, getattr(self, name), hint=" (leave it unset, or null, for all problems)")
        for name in ("sample_every", "eval_every", "num_samples"):
            check_whole(name, getattr(self, name), 0, " (0 turns it off)")
        check_whole("health_window", self.health_window)
        if self.push_final_to is not None and self.push_final_to.count("/") != 1:
            raise UserError(f"push_final_to must be a Hub repository id like you/model, got {self.push_final_to!r}")

    @property
    def style(self) -> str:
        return self.tag_style or get_scheme(self.scheme)["style"]

    @property
    def reward_names(self) -> list[str]:
        return chosen_rewards(self.scheme, self.rewards)[0]

    @property
    def weights(self) -> list[float]:
        """TRL's reward_weights: as given, else :func:`minir1.rewards.scheme_weights`."""
        return chosen_rewards(self.scheme, self.rewards, getattr(self.args, "reward_weights", None))[1]

    @property
    def reward_points(self) -> dict[str, float]:
        """Metric key of each reward and its weight in points, e.g. ``{"format_rubric": 13.0, ...}``."""
        return {reward_key(n): w for n, w in zip(self.reward_names, self.weights, strict=True)}

    @property
    def run_dir(self) -> Path:
        return Path(self.args.output_dir)

    def resolved(self) -> dict:
        """What a run saves as ``config.yaml``: a recipe that repeats the run (minir1's settings with derived
        values filled in, and every TRL setting as it was asked for, or as minir1 derived it). Tokens are never
        written (give them again, or use HF_TOKEN)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        out.update(tag_style=self.style, rewards=self.reward_names, overwrite=False, resume=False)
        trl = {**self.asked, **{k: getattr(self.args, k) for k in DERIVED}}
        out.update({k: v for k, v in trl.items() if k not in out and not k.endswith("_token")})
        return out


# --- parsing ----------------------------------------------------------------------------------

# Names a user may know from older TRL/transformers or older minir1, and what replaced them.
RENAMED = {
    "warmup_ratio": "warmup_steps (a value below 1 is a fraction of the training steps, e.g. --warmup_steps 0.1)",
    "max_prompt_length": "nothing: TRL no longer truncates prompts",
    "trl_args": "top-level settings: every GRPOConfig field is set by its own name (e.g. top_k: 50)",
    "push_to_hub_final": "push_final_to",
    "hub_model_id_final": "push_final_to",
}


class Parser(TrlParser):
    def error(self, message):  # argparse would print usage and exit; minir1 reports one line
        raise UserError(message)


def parser(*classes) -> Parser:
    return Parser(classes or (TrainConfig, GRPOSettings), prog="minir1 train", allow_abbrev=False, add_help=False)


def _unknown(key: str, where: str, known) -> UserError:
    if key in RENAMED:
        return UserError(f"{where}: {key!r} is not a setting any more: use {RENAMED[key]}")
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else " (see minir1 train --help-all)"
    return UserError(f"{where}: unknown setting {key!r}{hint}")


def load_config(recipe: str | None = None, overrides: list[str] | dict | None = None) -> TrainConfig:
    """Defaults, then the recipe, then overrides: a ``--name value`` list or a dict of values."""
    layers = [("recipe " + str(recipe_path(recipe)), read_recipe(recipe))] if recipe else []
    argv = []
    if isinstance(overrides, dict):
        layers.append(("settings", overrides))
    elif overrides:
        argv = list(overrides)
        if any(a == "--config" or a.startswith("--config=") for a in argv):
            raise UserError("give the recipe as load_config's first argument, not as --config")
    return _parse(layers, argv)


def _typed(action, value, where: str):
    """A recipe or override value typed as the command line's (``1e-5``, ``true``, each item of a list); a
    mapping, null, or a list for a one-value field (report_to) as it is."""
    if value is None or isinstance(value, dict) or (isinstance(value, list) and action.nargs not in ("+", "*")):
        return value
    convert = action.type or str
    typed = []
    for item in value if isinstance(value, list) else [value]:
        text = str(item).lower() if isinstance(item, bool) else str(item)
        try:
            typed.append(convert(text))
        except argparse.ArgumentTypeError as e:
            raise UserError(f"{where}: argument --{action.dest}: {e}") from None
        except (TypeError, ValueError):
            raise UserError(f"{where}: argument --{action.dest}: invalid {getattr(convert, '__name__', 'value')} "
                            f"value: {text!r}") from None
    return typed if action.nargs in ("+", "*") else typed[0]


def _parse(layers: list[tuple[str, dict]], argv: list[str]) -> TrainConfig:
    p = parser()
    actions = {a.dest: a for a in reversed(p._actions)}  # each setting's own action, not its --no_X twin
    for where, values in layers:
        for key in values:
            if key not in actions:
                raise _unknown(key, where, actions)
        if set(ALIASES) & set(values):  # one name of the checkpointing setting replaces a lower layer's other
            p.set_defaults(**dict.fromkeys(ALIASES))
        p.set_defaults(**{k: _typed(actions[k], v, where) for k, v in values.items()})
    options = p._option_string_actions  # --name, --name-with-dashes, --no_name: the setting's action
    cli = {options[a.partition("=")[0]].dest for a in argv if a.partition("=")[0] in options}  # what argv sets
    if set(ALIASES) & cli:
        p.set_defaults(**dict.fromkeys(ALIASES))
    ns, extra = p.parse_known_args(argv)
    for token in extra:
        if token.startswith("-"):
            raise _unknown(token.lstrip("-").partition("=")[0].replace("-", "_"), "command line", actions)
        raise UserError(f"command line: unexpected argument {token!r}: settings are written --name value")
    values = vars(ns)
    asked = {k: values[k] for where, layer in layers for k in layer} | {k: values[k] for k in cli}
    if asked.get("output_dir") is None:  # unset, or null: the recipe's own folder
        values["output_dir"] = str(Path("runs") / (values["recipe"] or "run"))
    cfg = TrainConfig(**{f.name: values[f.name] for f in dataclasses.fields(TrainConfig) if f.init})
    cfg.asked = asked
    if values["reward_weights"] is None:
        values["reward_weights"] = cfg.weights
    cfg.args = GRPOSettings(**{f.name: values[f.name] for f in dataclasses.fields(GRPOSettings) if f.init})
    if cfg.rewards is None and len(cfg.weights) != len(cfg.reward_names):
        raise UserError(f"got {len(cfg.weights)} reward weights for the {len(cfg.reward_names)} rewards of scheme "
                        f"{cfg.scheme!r} ({', '.join(cfg.reward_names)}): give one weight per reward")
    resolve(cfg.reward_names, cfg.weights)  # each reward exists, under a name of its own
    for w in cfg.weights:
        check_number("each reward weight", w)
    return cfg
