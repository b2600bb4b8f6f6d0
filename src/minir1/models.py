"""Finding and loading models: Hub ids, local folders, the tiny model, adapters and run folders.

Every command that loads a model goes through here, so each bad model is the same one-line error everywhere,
raised before anything heavy loads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import runs
from .errors import UserError, first_line
from .jsonl import read_json
from .tiny import cached_tiny_model

TINY = "tiny"
BASE_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # minir1 train's default model, and the bundled recipes'


def hub_offline(*also: str) -> bool:
    """huggingface_hub's offline rule (HF_HUB_OFFLINE, or any of ``also``, set to 1, ON, YES or TRUE), read now:
    huggingface_hub's own flag is read once, when it is imported."""
    return any(os.environ.get(k, "").strip().upper() in {"1", "ON", "YES", "TRUE"} for k in ("HF_HUB_OFFLINE", *also))


def resolve_model(name: str) -> str:
    """A local folder, the (cached) tiny model, or a Hub id that is cached or reachable; else a UserError.
    Downloads nothing."""
    if name == TINY:
        return str(cached_tiny_model())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"model folder {name} has no config.json: is it a Hugging Face model folder?")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise UserError(f"model not found: {name} is not a folder, and not a Hub id like {BASE_MODEL}")
    if is_cached(name):
        return name
    if hub_offline():
        raise UserError(f"model {name} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: "
                        "download it first, or pass a local folder")
    from huggingface_hub import model_info

    try:
        model_info(name, timeout=10)
    except Exception as e:  # connection errors, 404s and auth errors all mean the same to a user here
        raise UserError(f"cannot reach model {name} on the Hugging Face Hub ({first_line(e, 160)}): check the name "
                        "and your connection, or pass a local folder") from None
    return name


def is_cached(repo_id: str) -> bool:
    """Whether the Hub model ``repo_id`` is in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


DTYPES = ("auto", "float32", "bfloat16", "float16")
DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def check_dtype(name: str) -> str:
    """The canonical name of a ``--dtype`` (``fp16`` becomes ``float16``); a one-line UserError otherwise.

    >>> check_dtype("bf16")
    'bfloat16'
    """
    canonical = DTYPE_ALIASES.get(name, name)
    if canonical not in DTYPES:
        raise UserError(f"unknown --dtype {name!r}: choose one of {', '.join(DTYPES)} "
                        f"(or {', '.join(DTYPE_ALIASES)})")
    return canonical


def gpu_has_bf16() -> bool:
    """Whether the current CUDA GPU computes in bf16 natively (not emulated, slowly, as on a T4 or V100): minir1's
    one rule for bf16 on a GPU."""
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def cpu_runs_bf16() -> bool:
    """Whether this CPU has bf16 instructions (AMX or AVX512-BF16): there bf16 is faster than fp32, elsewhere slower."""
    import torch

    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def cpu_prefers_bf16(model: str | os.PathLike | None) -> bool:
    """minir1's one rule for bf16 on a CPU: a model saved in bf16, on a CPU with bf16 instructions, where it is
    faster (``bench/real_grpo_speed.py``, ``bench/real_eval_speed.py``)."""
    return cpu_runs_bf16() and saved_dtype(model) == "bfloat16"


def cpu_training_dtype(model: str | os.PathLike, lora: bool) -> str:
    """The dtype ``minir1 train`` loads a model's weights in on a CPU, unless told otherwise: bf16 for the frozen
    base of a LoRA run where :func:`cpu_prefers_bf16` (the adapters stay fp32, peft's default), else fp32."""
    return "bfloat16" if lora and cpu_prefers_bf16(model) else "float32"


def saved_dtype(model: str | os.PathLike | None, trust_remote_code: bool = False) -> str | None:
    """The dtype a model's config says its weights were saved in (``"bfloat16"``...), or None when unknown."""
    if model is None:
        return None
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(resolve_model(str(model)), trust_remote_code=trust_remote_code)
        dtype = getattr(config, "dtype", None)
    except Exception:  # an unreadable config is the loader's error to report, not this guess's
        return None
    return str(dtype).removeprefix("torch.") if dtype is not None else None


def device_and_dtype(requested: str = "auto", model: str | os.PathLike | None = None):
    """``(device, torch dtype)`` for inference; ``requested`` "auto" picks bf16 where :func:`gpu_has_bf16` or
    :func:`cpu_prefers_bf16`, else fp32, whose greedy output, unlike bf16's, practically never changes with the
    batch it is generated in."""
    import torch

    requested = check_dtype(requested)
    on_gpu = torch.cuda.is_available()
    device = torch.device("cuda" if on_gpu else "cpu")
    if requested != "auto":
        return device, getattr(torch, requested)
    bf16 = gpu_has_bf16() if on_gpu else cpu_prefers_bf16(model)
    return device, torch.bfloat16 if bf16 else torch.float32


@dataclass
class ModelSpec:
    """What to load: base model, optional adapter, and the prompt settings that go with them."""

    model: str
    adapter: str | None = None
    tag_style: str | None = None
    system_prompt: str | None = None
    scheme: str | None = None
    prefill: str | None = None  # the run's: text that opens the assistant turn


def model_spec(model: str | None = None, adapter: str | None = None) -> ModelSpec:
    """Base model and adapter from ``--model`` and ``--adapter`` (an adapter folder or a run folder). A run folder
    supplies its base model (unless ``model`` is given) and prompt settings; its ``final/`` is the adapter, or the
    model itself after full fine-tuning."""
    spec = ModelSpec(model=model or "")
    if adapter is not None:
        path = Path(adapter).expanduser()
        if not path.exists():
            raise UserError(f"adapter not found: {adapter}")
        if runs.is_run(path):
            run, final = runs.saved_settings(path), path / runs.FINAL
            spec = ModelSpec(model or run.get("model") or "", tag_style=run.get("tag_style"),
                             system_prompt=run.get("system_prompt"), scheme=run.get("scheme"),
                             prefill=run.get("prefill") or None)
            if not final.is_dir():
                raise UserError(f"run folder {adapter} has no final/ model yet: finish or resume the run first "
                                "(or point --adapter at one of its checkpoint-N folders)")
            if (final / "adapter_config.json").is_file():
                spec.adapter = str(final)
            elif model:
                raise UserError(f"run folder {adapter} holds a fully fine-tuned model, not an adapter: "
                                f"drop --model, or pass --model {final}")
            else:
                spec.model = str(final)
        elif (path / "adapter_config.json").is_file():
            spec.adapter = str(path)
            if not spec.model:
                spec.model = _adapter_base(path)
        else:
            raise UserError(f"{adapter} is neither a LoRA adapter (no adapter_config.json) nor a run folder "
                            f"(no {runs.MARKER})")
    if not spec.model:
        raise UserError("no model given: pass --model (a Hub id, a local folder, or 'tiny')")
    return spec


def _adapter_base(path: Path) -> str:
    base = read_json(path / "adapter_config.json").get("base_model_name_or_path")
    if not base:
        raise UserError(f"adapter {path} does not name its base model: pass --model")
    return base


def contiguous_head_input(model) -> None:
    """Give the model's output layer a contiguous input (a forward pre-hook, once per model): generation's first
    pass feeds it a strided view (each row's last position), which a CPU multiplies in bf16 by copying the whole
    weight once per row; copying the input is nearly free (``bench/real_grpo_speed.py``)."""
    head = model.get_output_embeddings()
    if head is None or getattr(head, "_minir1_contiguous_input", False):
        return
    head.register_forward_pre_hook(lambda module, args: (args[0].contiguous(), *args[1:]) if args else None)
    head._minir1_contiguous_input = True


def load_tokenizer(model: str, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_model(model), trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_for_inference(spec: ModelSpec, dtype: str = "auto", trust_remote_code: bool = False):
    """``(model, tokenizer)`` in eval mode on the best device, with the adapter if any (a misfit is a UserError)."""
    from transformers import AutoModelForCausalLM

    model_path = resolve_model(spec.model)
    device, torch_dtype = device_and_dtype(dtype, model_path)
    tokenizer = load_tokenizer(spec.model, trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    contiguous_head_input(model)
    if spec.adapter:
        from peft import PeftModel

        try:
            model = PeftModel.from_pretrained(model, spec.adapter)
        except (RuntimeError, ValueError, KeyError) as e:
            raise UserError(f"adapter {spec.adapter} does not fit model {spec.model} (it was trained for "
                            f"{_adapter_base(Path(spec.adapter))}): {first_line(e)}") from None
    model.to(device).eval()
    return model, tokenizer
