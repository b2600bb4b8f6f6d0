"""A tiny Qwen2-architecture model with random weights, built offline in seconds; the same seed gives the
same files. It has Qwen2.5-Instruct's architecture and chat template, so tests, the ``tiny`` recipe and
``minir1 demo`` exercise every code path of a real run at a size a CPU trains in seconds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from .errors import UserError, check_whole
from .folders import check_replaceable, move_into_place
from .jsonl import write_json

# Qwen2.5's ChatML template, without tool calls: what the real model's prompts look like.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if loop.first and message['role'] != 'system' %}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' %}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{%- else %}{{- message['content'] + '<|im_end|>' }}{%- endif %}"
    "{{- '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# Default size: two layers, enough to exercise every path, trained in seconds.
DEFAULT_SIZE = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                "num_key_value_heads": 2}
DEFAULT_VOCAB = 1024
VERSION = 1  # bump when the recipe for the tiny model changes, so caches are rebuilt
MARKER = "minir1-tiny.json"  # the settings a folder was built with; --overwrite replaces only such folders
# The byte-level BPE always holds the 256 byte symbols and the special tokens: no vocabulary is smaller.
MIN_VOCAB = 256 + len(SPECIAL_TOKENS)


def _corpus() -> list[str]:
    """Text to train the tokenizer on: GSM8K train, the prompts and tags of every style, synthetic problems."""
    from .data import load_problems
    from .prompts import STYLES, format_completion, solution_steps
    from .synthetic import make_problems

    texts = [text for p in load_problems("gsm8k:train") for text in (p.question, solution_steps(p.solution))]
    texts += [text for style in STYLES.values()
              for text in (style.system_prompt, format_completion("reasoning", "42", style.name))]
    return texts + [text for p in make_problems(600, seed=12345) for text in (p.question, p.solution)]


def train_tokenizer(vocab_size: int = DEFAULT_VOCAB):
    """A byte-level BPE tokenizer: transformers' Qwen2Tokenizer trained anew, with the ChatML template.

    ``train_new_from_iterator`` keeps Qwen2Tokenizer's own normalizer, pre-tokenizer and decoder, the ones it
    rebuilds when it reloads a ``qwen2`` folder, so token ids are the same before and after a reload. The
    special tokens come first, in the order of :data:`SPECIAL_TOKENS`.
    """
    from transformers import Qwen2Tokenizer

    untrained = Qwen2Tokenizer(vocab={token: i for i, token in enumerate(SPECIAL_TOKENS)}, eos_token="<|im_end|>",
                               pad_token="<|endoftext|>", unk_token=None, additional_special_tokens=["<|im_start|>"],
                               chat_template=CHAT_TEMPLATE, model_max_length=4096)
    return untrained.train_new_from_iterator(_corpus(), vocab_size, show_progress=False)


def check_size(size: dict[str, int], vocab_size: int, seed: int) -> dict[str, int]:
    """The full size settings (:data:`DEFAULT_SIZE` updated by ``size``); a UserError naming an impossible one:
    each attention head's width must be even (rotary embeddings rotate pairs), and the heads share the
    key/value heads evenly."""
    if unknown := set(size) - set(DEFAULT_SIZE):
        raise TypeError(f"unknown tiny-model size settings: {sorted(unknown)}")
    full = {**DEFAULT_SIZE, **size}
    for name, value in full.items():
        check_whole(f"tiny-model {name}", value)
    heads, kv = full["num_attention_heads"], full["num_key_value_heads"]
    if full["hidden_size"] % (2 * heads):
        raise UserError(f"tiny-model hidden size {full['hidden_size']} must be a multiple of {2 * heads} "
                        f"({heads} attention heads of even width), e.g. --hidden {max(2 * heads, 64)}")
    if heads % kv:
        raise UserError(f"tiny-model num_attention_heads {heads} must be a multiple of num_key_value_heads {kv}")
    check_whole("--vocab_size", vocab_size, MIN_VOCAB, f" (256 bytes and {len(SPECIAL_TOKENS)} special tokens)")
    if not 0 <= seed < 2**64:
        raise UserError(f"--seed must be between 0 and 2**64 - 1, got {seed}")
    return full


def build_tiny_model(out_dir: str | os.PathLike, *, seed: int = 0, vocab_size: int = DEFAULT_VOCAB,
                     overwrite: bool = False, **size: int) -> Path:
    """Build the tiny model and tokenizer into ``out_dir`` (the folder rule of :mod:`minir1.folders`) and return
    its path. ``size`` overrides any of :data:`DEFAULT_SIZE`. The model is built beside ``out_dir`` and moved
    in when complete, so a failure leaves what was there."""
    full = check_size(size, vocab_size, seed)
    out = Path(out_dir)
    check_replaceable(out, MARKER, overwrite, "a tiny model built by minir1")
    _build(out, move_into_place, seed, vocab_size, full)
    return out


def _build(out: Path, place: Callable[[Path, Path], None], seed: int, vocab_size: int, size: dict[str, int]) -> None:
    """Build into a new folder beside ``out``, then ``place(new, out)``."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.building-"))
    try:
        tokenizer = train_tokenizer(vocab_size)
        config = Qwen2Config(vocab_size=len(tokenizer), max_position_embeddings=4096, tie_word_embeddings=True,
                             bos_token_id=None, eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                             pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"), **size)
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
        model.generation_config = GenerationConfig(eos_token_id=[config.eos_token_id, config.pad_token_id],
                                                   pad_token_id=config.pad_token_id, do_sample=False)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        marker = {"built_by": "minir1 tiny-model", "version": VERSION, "seed": seed, "vocab_size": vocab_size, **size}
        write_json(tmp / MARKER, marker)
        place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tiny_cache_path(seed: int = 0) -> Path:
    """Where :func:`cached_tiny_model` keeps the tiny model (built or not)."""
    root = Path(os.environ.get("MINIR1_CACHE", Path.home() / ".cache" / "minir1"))
    return root / f"tiny-v{VERSION}-seed{seed}"


def cached_tiny_model(seed: int = 0) -> Path:
    """The default tiny model, built once into the user cache (``$MINIR1_CACHE`` or ``~/.cache/minir1``)."""
    path = tiny_cache_path(seed)
    if not (path / "config.json").exists():
        _build(path, _first_wins, seed, DEFAULT_VOCAB, DEFAULT_SIZE)
    return path


def _first_wins(new: Path, out: Path) -> None:
    with suppress(OSError):  # another process finished first; theirs is identical
        new.rename(out)


def cli_tiny_model(args) -> int:
    """``minir1 tiny-model OUT_DIR``."""
    size = {k: v for k, v in (("num_hidden_layers", args.layers), ("hidden_size", args.hidden)) if v is not None}
    if "hidden_size" in size:
        size["intermediate_size"] = 2 * size["hidden_size"]
    path = build_tiny_model(args.out_dir, seed=args.seed, vocab_size=args.vocab_size, overwrite=args.overwrite,
                            **size)
    print(f"tiny model written to {path}")
    return 0
