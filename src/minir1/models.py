"""Finding and loading models: Hub ids, local folders, the tiny model, adapters and run folders.

Every command that loads a model goes through here, so a missing model, an
unreachable Hub or an adapter for another base model is the same one-line error
everywhere, raised before anything heavy is loaded.

A *run folder* (:mod:`minir1.runs`) names the base model and the prompt settings,
and its ``final/`` holds the trained LoRA adapter (or the whole model after full
fine-tuning).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from . import runs
from .errors import UserError

TINY = "tiny"


def resolve_model(name: str) -> str:
    """A loadable model reference: a local folder, the built tiny model, or a Hub id that can be reached.

    Raises UserError when the name is none of these, without downloading weights.
    """
    if name == TINY:
        from .tiny import cached_tiny_model

        return str(cached_tiny_model())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"model folder {name} has no config.json: is it a Hugging Face model folder?")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") != 1:
        raise UserError(f"model not found: {name} is not a folder, and not a Hub id like Qwen/Qwen2.5-0.5B-Instruct")
    _check_hub(name)
    return name


def _check_hub(repo_id: str) -> None:
    """Pass when the Hub model is cached or reachable; a one-line UserError otherwise."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json")
    if isinstance(cached, str):
        return
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise UserError(f"model {repo_id} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1: "
                        "download it first, or pass a local folder")
    from huggingface_hub import model_info

    try:
        model_info(repo_id, timeout=10)
    except Exception as e:  # connection errors, 404s and auth errors all mean the same to a user here
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot reach model {repo_id} on the Hugging Face Hub ({reason}): check the name and "
                        "your connection, or pass a local folder") from None


# The weight dtypes a model can be loaded in, and the short names accepted for them.
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
    """Whether the current CUDA GPU computes in bf16 natively: minir1's one rule for bf16 on a GPU.

    torch's default answer counts emulation, which older GPUs (T4, V100) run at a fraction of
    fp16's speed, so they train and evaluate in fp32.
    """
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


def cpu_runs_bf16() -> bool:
    """Whether this CPU has bf16 instructions (AMX or AVX512-BF16): there bf16 is faster than fp32, elsewhere slower."""
    import torch

    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def cpu_training_dtype(model: str | os.PathLike, lora: bool) -> str:
    """The dtype ``minir1 train`` loads a model's weights in on a CPU, unless told otherwise.

    bf16 for the frozen base weights of a LoRA run when the model was saved in bf16 and the
    CPU has bf16 instructions: there a real 0.5B model's GRPO step ran several times faster
    than with fp32 weights (``bench/real_grpo_speed.py``; figures in BENCHMARKS.md); the LoRA
    adapters, the weights that train, stay fp32 (peft's default). Else fp32: weights that
    train in full fine-tuning, a model saved in fp32 (minir1's tiny ones), a CPU without bf16.
    """
    return "bfloat16" if lora and cpu_runs_bf16() and saved_dtype(model) == "bfloat16" else "float32"


def saved_dtype(model: str | os.PathLike | None) -> str | None:
    """The dtype a model's config says its weights were saved in (``"bfloat16"``...), or None when unknown."""
    if model is None:
        return None
    try:
        from transformers import AutoConfig

        dtype = getattr(AutoConfig.from_pretrained(resolve_model(str(model))), "dtype", None)
    except Exception:  # an unreadable config is the loader's error to report, not this guess's
        return None
    return str(dtype).removeprefix("torch.") if dtype is not None else None


def device_and_dtype(requested: str = "auto", model: str | os.PathLike | None = None):
    """``(device, torch dtype)`` for inference; ``requested`` "auto" picks by measurement.

    On a GPU: bf16 where it is supported, else fp32. On a CPU: bf16 for a model saved in
    bf16 (Qwen2.5's are) when the CPU has bf16 instructions, where it generated faster
    than fp32 with the same strict and format verdicts on nearly every problem
    (``bench/real_eval_speed.py``; figures in BENCHMARKS.md), else fp32 (a model saved in
    fp32, such as minir1's tiny ones and ``minir1 warmstart``'s, stays as it is). bf16
    greedy output can change with the batch it is generated in; fp32's practically never.
    """
    import torch

    requested = check_dtype(requested)
    on_gpu = torch.cuda.is_available()
    device = torch.device("cuda" if on_gpu else "cpu")
    if requested != "auto":
        return device, getattr(torch, requested)
    if on_gpu:
        return device, torch.bfloat16 if gpu_has_bf16() else torch.float32
    return device, torch.bfloat16 if saved_dtype(model) == "bfloat16" and cpu_runs_bf16() else torch.float32


@dataclass
class ModelSpec:
    """What to load: base model, optional adapter, and the prompt settings that go with them."""

    model: str
    adapter: str | None = None
    tag_style: str | None = None
    system_prompt: str | None = None
    scheme: str | None = None
    run_dir: str | None = None
    prefill: str | None = None  # the run's: text that opens the assistant turn


def model_spec(model: str | None = None, adapter: str | None = None) -> ModelSpec:
    """Work out base model and adapter from ``--model`` and ``--adapter`` (an adapter folder or a run folder).

    A run folder supplies its base model (unless ``model`` is given), its tag
    style, system prompt, scheme and prefill; its ``final/`` folder is the adapter,
    or the model itself after full fine-tuning.
    """
    spec = ModelSpec(model=model or "")
    if adapter is not None:
        path = Path(adapter).expanduser()
        if not path.exists():
            raise UserError(f"adapter not found: {adapter}")
        if runs.is_run(path):
            run = runs.read_settings(path)[0]
            spec.run_dir = str(path)
            spec.tag_style, spec.system_prompt, spec.scheme = run.get("tag_style"), run.get("system_prompt"), run.get(
                "scheme")
            spec.prefill = run.get("prefill") or None
            final = path / runs.FINAL
            if not final.is_dir():
                raise UserError(f"run folder {adapter} has no final/ model yet: finish or resume the run first "
                                "(or point --adapter at one of its checkpoint-N folders)")
            if (final / "adapter_config.json").is_file():
                spec.adapter = str(final)
                spec.model = model or run.get("model") or ""
            else:
                if model:
                    raise UserError(f"run folder {adapter} holds a fully fine-tuned model, not an adapter: "
                                    f"drop --model, or pass --model {final}")
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
    try:
        base = json.loads((path / "adapter_config.json").read_text())["base_model_name_or_path"]
    except (OSError, KeyError, json.JSONDecodeError):
        raise UserError(f"adapter {path} does not name its base model: pass --model") from None
    if not base:
        raise UserError(f"adapter {path} does not name its base model: pass --model")
    return base


def contiguous_head_input(model) -> None:
    """Give the model's output layer a contiguous input, with a forward pre-hook (once per model).

    Generation's first pass feeds the output layer only the last position of each row: a
    strided view. On a CPU, PyTorch multiplies a strided bf16 input by that layer (151,936
    rows for Qwen2.5) through a batched product that first copies the whole weight once per
    row, seconds per call with a LoRA-wrapped real model; a contiguous copy of the input costs
    nothing by comparison (``bench/real_grpo_speed.py``, BENCHMARKS.md). Training and
    evaluation both install it.
    """
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
    """``(model, tokenizer)`` in eval mode on the best device, the adapter applied when there is one.

    An adapter whose shapes do not fit the base model is a UserError naming both.
    """
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
            first = str(e).strip().splitlines()[0][:200]
            raise UserError(f"adapter {spec.adapter} does not fit model {spec.model} (it was trained for "
                            f"{_adapter_base(Path(spec.adapter))}): {first}") from None
    model.to(device).eval()
    return model, tokenizer
