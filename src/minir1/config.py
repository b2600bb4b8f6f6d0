"""Training configuration: one dataclass, YAML recipes, command-line overrides.

Precedence is defaults < recipe YAML < command line. Unknown keys are errors, with
a suggestion. The resolved configuration (derived values filled in) is what a run
saves as ``config.yaml``, so ``minir1 train --config RUN_DIR/config.yaml``
repeats a run. A recipe is a name (``minir1/recipes/<name>.yaml``) or a path.

    >>> cfg = load_config("tiny", ["--max_steps", "3", "--lora", "false"])
    >>> cfg.max_steps, cfg.lora
    (3, False)

:func:`validate` checks every cross-field rule in plain words, before any model
or data set is loaded; :func:`grpo_kwargs` maps the configuration onto TRL's
``GRPOConfig``, the only place where the two meet.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from .errors import UserError
from .rewards import get_scheme

TAG_STYLES = ("think", "reasoning")
DTYPES = ("auto", "float32", "bfloat16", "float16")
REPORT_TO = ("none", "tensorboard", "wandb", "trackio")


def _f(default, help: str, **kw):
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    """Everything a training run needs. Field help texts are the ``minir1 train --help`` text."""

    # --- run -------------------------------------------------------------------------------
    recipe: str | None = _f(None, "name of the recipe these settings came from (set by --config)")
    output_dir: str | None = _f(None, "run folder; default runs/<recipe>")
    overwrite: bool = _f(False, "replace an existing run folder")
    resume: bool = _f(False, "continue the run in output_dir from its latest checkpoint")
    seed: int = _f(42, "random seed for data order, sampling and initialisation")

    # --- model -----------------------------------------------------------------------------
    model: str = _f("Qwen/Qwen2.5-0.5B-Instruct", "Hub id, local folder, or 'tiny' (offline tiny model)")
    trust_remote_code: bool = _f(False, "allow model code from the Hub (off unless you trust it)")
    dtype: str = _f("auto", "auto (bf16 on a GPU that has it, else fp32), float32, bfloat16 or float16")
    attn_implementation: str | None = _f(None, "attention kernel, e.g. sdpa or flash_attention_2")
    lora: bool = _f(True, "train a LoRA adapter (false: full fine-tuning)")
    lora_r: int = _f(16, "LoRA rank")
    lora_alpha: int = _f(32, "LoRA alpha")
    # 0, not the 0.05 of LoRA examples: dropout makes the log-probabilities GRPO trains on differ from those of
    # the policy that sampled, and it made steps 1.24x slower (BENCHMARKS.md: seeds vs seeds-no-dropout).
    lora_dropout: float = _f(0.0, "LoRA dropout (0 keeps training log-probs equal to sampling's)")
    lora_target_modules: list[str] | str = _f("all-linear", "modules that get LoRA adapters")

    # --- data and prompts ------------------------------------------------------------------
    data: str = _f("gsm8k:train", "gsm8k:train, a .jsonl/.json/.parquet/.csv file, or a Hub id[:split]")
    data_limit: int | None = _f(None, "use only the first N problems")
    question_field: str = _f("question", "field holding the question")
    answer_field: str = _f("answer", "field holding the gold answer or a solution ending '#### N'")
    tag_style: str | None = _f(None, "think or reasoning; default: the scheme's style")
    system_prompt: str | None = _f(None, "system prompt; default: the tag style's own")

    # --- rewards ---------------------------------------------------------------------------
    scheme: str = _f("mini-r1", "reward scheme: mini-r1 (13 + 10 points) or grpo-demo")
    rewards: list[str] | None = _f(None, "reward names; default: the scheme's")
    reward_weights: list[float] | None = _f(None, "one weight (points) per reward; default: the scheme's")

    # --- GRPO (TRL's GRPOConfig names) -----------------------------------------------------
    max_steps: int = _f(500, "optimizer steps")
    learning_rate: float = _f(1e-5, "peak learning rate")
    lr_scheduler_type: str = _f("constant_with_warmup", "learning-rate schedule")
    warmup_steps: int = _f(0, "linear warm-up steps")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    max_grad_norm: float = _f(1.0, "gradient clipping norm")
    per_device_train_batch_size: int = _f(8, "completions per device per micro-batch")
    gradient_accumulation_steps: int = _f(1, "micro-batches per optimizer step")
    num_generations: int = _f(8, "completions sampled per prompt (the GRPO group)")
    generation_batch_size: int | None = _f(None, "completions generated at once; default: one step's worth")
    # TRL's default: one generation batch per optimizer step. Generating for two steps at once was 1.52x
    # slower on CPU (BENCHMARKS.md: minir1 vs minir1+gen2), and it makes the second step off-policy.
    steps_per_generation: int | None = _f(None, "optimizer steps that share one generation batch")
    # 1 keeps GRPO on-policy. 2 (minir1+mu2) cut seconds per step by 1.21x on CPU by training twice on each
    # sample: a trade, not a free speed-up, so it stays a setting.
    num_iterations: int = _f(1, "policy updates per generation batch (mu)")
    max_completion_length: int = _f(256, "new tokens per completion at most")
    temperature: float = _f(1.0, "sampling temperature")
    top_p: float = _f(1.0, "nucleus sampling")
    beta: float = _f(0.0, "KL coefficient (0: no reference model, less memory)")
    epsilon: float = _f(0.2, "clipping range")
    loss_type: str = _f("dapo", "TRL loss type: grpo, dr_grpo, dapo, bnpo, ...")
    scale_rewards: str = _f("group", "advantage scaling: group, batch or none")
    mask_truncated_completions: bool = _f(False, "exclude truncated completions from the loss")
    # Off unless memory needs it: it recomputes the forward pass in the backward (2% slower on the CPU bench,
    # BENCHMARKS.md minir1+checkpointing; typically far more on a GPU, where the backward dominates).
    activation_checkpointing: bool = _f(False, "recompute activations to save memory (slower)")
    use_vllm: bool = _f(False, "generate with vLLM (pip install 'minir1[vllm]')")
    vllm_mode: str = _f("colocate", "colocate (same GPU) or server (trl vllm-serve)")
    vllm_gpu_memory_utilization: float = _f(0.3, "GPU memory share for vLLM in colocate mode")
    vllm_server_host: str = _f("127.0.0.1", "vLLM server host (server mode)")
    vllm_server_port: int = _f(8000, "vLLM server port (server mode)")
    vllm_server_timeout: float = _f(240.0, "seconds to wait for the vLLM server")

    # --- logging, checkpoints, evaluation --------------------------------------------------
    logging_steps: int = _f(1, "log metrics every N steps")
    save_steps: int = _f(50, "checkpoint every N steps")
    save_total_limit: int | None = _f(2, "checkpoints kept")
    sample_every: int = _f(10, "write sample completions to samples.jsonl every N steps (0: never)")
    num_samples: int = _f(4, "completions written per sampling step")
    eval_every: int = _f(0, "evaluate on a held-out subset every N steps (0: never)")
    eval_data: str = _f("gsm8k:test", "held-out problems for evaluation during training")
    eval_limit: int = _f(64, "held-out problems evaluated each time")
    health_window: int = _f(50, "steps the slow health warnings compare (format saturated, correctness flat)")
    report_to: list[str] | str = _f("none", "trackers: none, tensorboard, wandb, trackio")
    plot: bool = _f(True, "write plots at the end of training")
    push_to_hub: bool = _f(False, "push the final adapter or model to the Hub")
    hub_model_id: str | None = _f(None, "Hub repository for push_to_hub")
    trl_args: dict = _f({}, "any other GRPOConfig field, e.g. {top_k: 50}")

    # --- derived --------------------------------------------------------------------------
    @property
    def style(self) -> str:
        return self.tag_style or get_scheme(self.scheme)["style"]

    @property
    def reward_names(self) -> list[str]:
        return list(self.rewards) if self.rewards is not None else list(get_scheme(self.scheme)["rewards"])

    @property
    def reward_points(self) -> dict[str, float]:
        """Metric key of each reward and its weight in points, e.g. ``{"format_rubric": 13.0, ...}``."""
        from .rewards import reward_key

        return {reward_key(n): w for n, w in zip(self.reward_names, self.weights, strict=True)}

    @property
    def weights(self) -> list[float]:
        if self.reward_weights is not None:
            return [float(w) for w in self.reward_weights]
        if self.rewards is None:
            return list(get_scheme(self.scheme)["rewards"].values())
        scheme = get_scheme(self.scheme)["rewards"]
        return [scheme.get(name, 1.0) for name in self.rewards]

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir or Path("runs") / (self.recipe or "run"))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resolved(self) -> dict:
        """Settings with derived values filled in: what a run saves as ``config.yaml``."""
        d = self.to_dict()
        d.update(tag_style=self.style, rewards=self.reward_names, reward_weights=self.weights,
                 output_dir=str(self.run_dir))
        d.update(overwrite=False, resume=False)  # how it was started, not what it is
        return d


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


# --- loading -----------------------------------------------------------------------------


def recipe_path(recipe: str) -> Path:
    """The YAML file of a recipe name (bundled) or path."""
    p = Path(recipe).expanduser()
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise UserError(f"recipe file not found: {recipe}")
        return p
    bundled = Path(str(resources.files("minir1") / "recipes" / f"{recipe}.yaml"))
    if not bundled.is_file():
        raise UserError(f"unknown recipe {recipe!r}: choose one of {', '.join(list_recipes())}, or give a YAML path")
    return bundled


def list_recipes() -> list[str]:
    root = Path(str(resources.files("minir1") / "recipes"))
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))


def _unknown(key: str, where: str) -> UserError:
    close = difflib.get_close_matches(key, FIELDS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else " (see minir1 train --help)"
    return UserError(f"{where}: unknown setting {key!r}{hint}")


@functools.cache
def _options(name: str) -> tuple:
    """The types a field accepts: ``int | None`` -> ``(int, NoneType)``."""
    hint = typing.get_type_hints(TrainConfig)[name]
    return typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)


def _coerce(name: str, value, where: str):
    """Check ``value`` against the field's type; convert ints to floats and single items to lists."""
    options = _options(name)
    if value is None:
        if type(None) in options:
            return None
        raise UserError(f"{where}: {name} cannot be empty")
    for opt in options:
        origin = typing.get_origin(opt)
        if opt is bool and isinstance(value, bool):
            return value
        if opt is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if opt is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if opt is str and isinstance(value, str):
            return value
        if origin is list:
            (item,) = typing.get_args(opt)
            items = value if isinstance(value, list) else None
            if items is not None and all(_is(item, x) for x in items):
                return [float(x) if item is float else x for x in items]
        if opt is dict and isinstance(value, dict):
            return value
    wanted = " or ".join(_type_name(o) for o in options)
    raise UserError(f"{where}: {name} must be {wanted}, got {value!r}")


def _is(kind, x) -> bool:
    if kind is float:
        return isinstance(x, (int, float)) and not isinstance(x, bool)
    return isinstance(x, kind)


def _type_name(t) -> str:
    if t is type(None):
        return "null"
    if typing.get_origin(t) is list:
        return f"a list of {typing.get_args(t)[0].__name__}"
    return {bool: "true/false", int: "an integer", float: "a number", str: "text", dict: "a mapping"}.get(t, str(t))


def parse_overrides(argv: list[str]) -> dict:
    """``['--max_steps', '3', '--lora=false', '--resume']`` -> ``{'max_steps': 3, 'lora': False, 'resume': True}``.

    Values are read as YAML (``--rewards '[correctness]'``); a flag with no value is true.
    """
    out: dict = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--") or token == "--":
            raise UserError(f"unexpected argument {token!r}: settings are written --name value")
        key, eq, raw = token[2:].partition("=")
        key = key.replace("-", "_")
        if not eq:
            if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                raw = argv[i + 1]
                i += 1
            else:
                raw = "true"
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, (int, float, bool)) and FIELDS.get(key) and _wants_str(key):
            value = raw  # '--model 123' or '--hub_model_id 1' stays text
        out[key] = value
        i += 1
    return out


def _wants_str(name: str) -> bool:
    options = _options(name)
    return str in options and not any(o in (int, float, bool) for o in options)


def load_config(recipe: str | None = None, overrides: list[str] | dict | None = None) -> TrainConfig:
    """Defaults, then the recipe's YAML, then overrides (a ``--name value`` list or a dict)."""
    values: dict = {}
    if recipe:
        path = recipe_path(recipe)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise UserError(f"recipe {path}: not valid YAML{where}") from None
        if not isinstance(loaded, dict):
            raise UserError(f"recipe {path}: expected a mapping of settings")
        for key, value in loaded.items():
            if key not in FIELDS:
                raise _unknown(key, f"recipe {path}")
            values[key] = _coerce(key, value, f"recipe {path}")
        values.setdefault("recipe", loaded.get("recipe") or path.stem)
    if overrides:
        given = overrides if isinstance(overrides, dict) else parse_overrides(list(overrides))
        for key, value in given.items():
            if key not in FIELDS:
                raise _unknown(key, "command line")
            values[key] = _coerce(key, value, "command line")
    return TrainConfig(**values)


def save_config(cfg: TrainConfig, path: Path, command: str | None = None) -> None:
    """Write the resolved configuration as YAML, headed by the command that produced it."""
    head = f"# {command}\n" if command else ""
    path.write_text(head + yaml.safe_dump(cfg.resolved(), sort_keys=False, allow_unicode=True), encoding="utf-8")


# --- validation -------------------------------------------------------------------------


def world_size() -> int:
    """Processes in this run (set by torchrun and accelerate launch)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True in the one process that writes the run folder."""
    return int(os.environ.get("RANK", "0")) == 0


def validate(cfg: TrainConfig) -> None:
    """Check settings that do not need a model; raise UserError with a fix in plain words."""
    from .prompts import get_style
    from .rewards import resolve

    get_scheme(cfg.scheme)
    get_style(cfg.style)
    if cfg.rewards is not None and not cfg.rewards:
        raise UserError("rewards is empty: name at least one reward, e.g. --rewards '[correctness]'")
    if cfg.reward_weights is not None and cfg.rewards is None and len(cfg.reward_weights) != len(cfg.reward_names):
        raise UserError(
            f"got {len(cfg.reward_weights)} reward weights for the {len(cfg.reward_names)} rewards of scheme "
            f"{cfg.scheme!r} ({', '.join(cfg.reward_names)}): give one weight per reward"
        )
    resolve(cfg.reward_names, cfg.weights)
    if cfg.num_generations < 2:
        raise UserError(
            f"num_generations is {cfg.num_generations}: GRPO compares completions of the same prompt, "
            "so it needs at least 2 (8 is typical)"
        )
    global_batch = cfg.per_device_train_batch_size * world_size()
    if cfg.generation_batch_size is not None and cfg.steps_per_generation is not None:
        raise UserError("set generation_batch_size or steps_per_generation, not both")
    if cfg.generation_batch_size is not None:
        gen = cfg.generation_batch_size
        if gen % global_batch:
            raise UserError(
                f"generation_batch_size {gen} must be a multiple of the global batch "
                f"(per_device_train_batch_size {cfg.per_device_train_batch_size} x {world_size()} processes = "
                f"{global_batch})"
            )
    else:
        gen = global_batch * (cfg.steps_per_generation or cfg.gradient_accumulation_steps)
    if gen % cfg.num_generations:
        fix = _next_multiple(gen, cfg.num_generations)
        raise UserError(
            f"each generation batch holds {gen} completions, which is not a whole number of groups of "
            f"num_generations={cfg.num_generations}: set per_device_train_batch_size so that the batch is a "
            f"multiple of {cfg.num_generations} (e.g. --per_device_train_batch_size {fix}), or change num_generations"
        )
    positive = ("max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "num_iterations",
                "logging_steps", "save_steps", "max_completion_length", "health_window")
    for name in positive:
        if getattr(cfg, name) < 1:
            raise UserError(f"{name} must be at least 1, got {getattr(cfg, name)}")
    if cfg.max_completion_length < 16:
        raise UserError(
            f"max_completion_length {cfg.max_completion_length} is too short for reasoning plus an answer "
            "block: use at least 16 (256 to 1024 is typical)"
        )
    if cfg.learning_rate <= 0:
        raise UserError(f"learning_rate must be positive, got {cfg.learning_rate}")
    if cfg.temperature <= 0:
        raise UserError(f"temperature must be positive, got {cfg.temperature} (use a small value like 0.1)")
    if not 0 < cfg.top_p <= 1:
        raise UserError(f"top_p must be in (0, 1], got {cfg.top_p}")
    if cfg.beta < 0:
        raise UserError(f"beta (the KL coefficient) cannot be negative, got {cfg.beta}")
    if cfg.lora and (cfg.lora_r < 1 or cfg.lora_alpha < 1):
        raise UserError("lora_r and lora_alpha must be at least 1 (or set --lora false for full fine-tuning)")
    if cfg.dtype not in DTYPES:
        raise UserError(f"dtype {cfg.dtype!r} is not one of {', '.join(DTYPES)}")
    if cfg.scale_rewards not in ("group", "batch", "none"):
        raise UserError(f"scale_rewards must be group, batch or none, got {cfg.scale_rewards!r}")
    for name in ("sample_every", "eval_every", "num_samples", "eval_limit"):
        if getattr(cfg, name) < 0:
            raise UserError(f"{name} cannot be negative")
    trackers = [cfg.report_to] if isinstance(cfg.report_to, str) else list(cfg.report_to)
    for t in trackers:
        if t not in REPORT_TO and t != "all":
            raise UserError(f"report_to {t!r} is not one of {', '.join(REPORT_TO)}")
        if t in ("tensorboard", "wandb", "trackio") and not _installed(t):
            raise UserError(f"report_to {t} needs the {t} package: pip install {t} (or set --report_to none)")
    _check_trl_args(cfg)
    _check_vllm(cfg)
    _check_sharding(cfg)
    if cfg.push_to_hub and not cfg.hub_model_id:
        raise UserError("push_to_hub needs a repository: set --hub_model_id your-name/your-model")


def _installed(module: str) -> bool:
    import importlib.util

    if module == "tensorboard":  # transformers writes events through either package
        return any(importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorboardX"))
    return importlib.util.find_spec(module) is not None


def _next_multiple(n: int, k: int) -> int:
    return k if n < k else (n // k + 1) * k


# Settings minir1 derives or owns; trl_args may not set them behind its back.
_OWNED = {"output_dir", "use_cpu", "bf16", "fp16", "reward_weights", "model_init_kwargs", "save_strategy",
          "logging_strategy", "disable_tqdm", "log_completions"}


def _check_trl_args(cfg: TrainConfig) -> None:
    if not cfg.trl_args:
        return
    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    for key in cfg.trl_args:
        if key in FIELDS:
            raise UserError(f"trl_args sets {key!r}, which is a minir1 setting: use --{key} instead")
        if key in _OWNED:
            raise UserError(f"trl_args cannot set {key!r}: minir1 sets it from the other settings")
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"trl_args: {key!r} is not a GRPOConfig field{hint}")


def _check_vllm(cfg: TrainConfig) -> None:
    if not cfg.use_vllm:
        return
    if cfg.vllm_mode not in ("colocate", "server"):
        raise UserError(f"vllm_mode must be colocate or server, got {cfg.vllm_mode!r}")
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise UserError("use_vllm is on but vLLM is not installed: pip install 'minir1[vllm]' (needs a CUDA GPU), "
                        "or set --use_vllm false")
    if cfg.vllm_mode == "colocate" and not 0 < cfg.vllm_gpu_memory_utilization < 1:
        raise UserError("vllm_gpu_memory_utilization must be between 0 and 1 (0.3 leaves room for training)")
    if cfg.vllm_mode == "server":
        import socket

        launch = (f"`CUDA_VISIBLE_DEVICES=1 trl vllm-serve --model {cfg.model} --port {cfg.vllm_server_port}` "
                  "on the generation GPU(s)")
        try:
            socket.create_connection((cfg.vllm_server_host, cfg.vllm_server_port), timeout=3).close()
        except OSError:
            raise UserError(f"no vLLM server at {cfg.vllm_server_host}:{cfg.vllm_server_port}: start one with "
                            f"{launch}, or set --vllm_mode colocate") from None
        served = _served_model(cfg.vllm_server_host, cfg.vllm_server_port)
        if served is not None and not _same_model(served, cfg.model):
            raise UserError(f"the vLLM server at {cfg.vllm_server_host}:{cfg.vllm_server_port} serves {served!r} "
                            f"but training uses {cfg.model!r}: restart it with {launch}")


def _served_model(host: str, port: int) -> str | None:
    """The model a vLLM (OpenAI-compatible) server names at /v1/models, or None if it does not say."""
    import json
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


# --- onto TRL ---------------------------------------------------------------------------

# Settings passed to GRPOConfig under the same name.
SAME_NAME = (
    "seed", "max_steps", "learning_rate", "lr_scheduler_type", "warmup_steps", "weight_decay", "max_grad_norm",
    "per_device_train_batch_size", "gradient_accumulation_steps", "num_generations", "generation_batch_size",
    "steps_per_generation", "num_iterations", "max_completion_length", "temperature", "top_p", "beta", "epsilon",
    "loss_type", "scale_rewards", "mask_truncated_completions", "activation_checkpointing", "use_vllm", "vllm_mode",
    "vllm_gpu_memory_utilization", "vllm_server_host", "vllm_server_port", "vllm_server_timeout",
    "logging_steps", "save_steps", "save_total_limit", "report_to",
    "trust_remote_code",
)


def grpo_kwargs(cfg: TrainConfig, on_gpu: bool, bf16_ok: bool) -> dict:
    """Keyword arguments for TRL's ``GRPOConfig``: precision, device and names mapped, trl_args last."""
    kw = {name: getattr(cfg, name) for name in SAME_NAME}
    kw["report_to"] = [cfg.report_to] if isinstance(cfg.report_to, str) else list(cfg.report_to)
    if kw["activation_checkpointing"] is False:
        kw["activation_checkpointing"] = None
    dtype = cfg.dtype if cfg.dtype != "auto" else ("bfloat16" if on_gpu and bf16_ok else "float32")
    kw.update(
        output_dir=str(cfg.run_dir),
        reward_weights=cfg.weights,
        use_cpu=not on_gpu,
        bf16=on_gpu and dtype == "bfloat16",
        fp16=on_gpu and dtype == "float16",
        model_init_kwargs={"dtype": dtype, **({"attn_implementation": cfg.attn_implementation}
                                              if cfg.attn_implementation else {})},
        save_strategy="steps",
        logging_strategy="steps",
        disable_tqdm=False,
        log_completions=False,
        # With LoRA, checkpoints save only the adapter; the optimizer state comes too, so resume is exact.
        save_only_model=False,
        # Every trainable parameter takes part in every forward pass; finding unused ones is an extra
        # traversal of the autograd graph per step under DDP (PyTorch warns about it when left on).
        ddp_find_unused_parameters=False,
    )
    kw.update(cfg.trl_args)
    return kw
