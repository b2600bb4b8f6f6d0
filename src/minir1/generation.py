"""Generation backends: batched Hugging Face generation (the default) and vLLM (optional).

Both answer one call, ``fn(prompts, *, max_new_tokens, batch_size, num_samples, temperature, seed,
on_batch, stop) -> list[list[Generation]]``: ``num_samples`` generations per chat prompt, in prompt
order. Evaluation, training and the demo see only this contract, so a test can hand in a fake.

* **Decoding is defined here, not by the model's generation_config.json** (Qwen2.5-Instruct's adds
  top-k, top-p and a repetition penalty): two models evaluated "the same way" must not inherit
  different sampling rules. Greedy is plain argmax; sampling is plain temperature sampling.
* **A completion ends where a training rollout ends:** at the end of the turn (EOS) or at
  ``max_new_tokens`` (then ``truncated``), so evaluation sees everything the reward sees.
  ``stop="</answer>"`` (``minir1 eval --stop_at_answer``) is a speed option: rows end at the first
  ``</answer>`` (the text is cut there, even inside a token), so what follows is never generated.
* **A prefill continues the assistant turn:** a prompt whose last message is the assistant's
  (:func:`minir1.prompts.build_prompt` with ``prefill``) ends with that text and no end of turn;
  ``Generation.text`` is what comes after it.
* **Batches of similar length:** prompts are sorted by token length, longest first (running out of
  memory shows in the first batch, not after an hour), and left-padded; results keep prompt order.

    >>> gens = generate(model, tokenizer, [build_prompt("What is 2 + 3?")], max_new_tokens=64)  # doctest: +SKIP
    >>> gens[0][0].text, gens[0][0].tokens, gens[0][0].truncated                            # doctest: +SKIP
    ('<think>\\n2 + 3 = 5\\n</think>\\n<answer>\\n5\\n</answer>', 21, False)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError, check_whole
from .prompts import open_turn, render_prompt


@dataclass(frozen=True)
class Generation:
    """One completion: the text generated after any prefill, its token count, and whether it was cut off."""

    text: str
    tokens: int
    truncated: bool


# on_batch(indices of the prompts just finished, their generations), after every batch: a caller
# saves results as they come (evaluation appends them to samples.jsonl).
OnBatch = Callable[[list[int], list[list[Generation]]], None]


def default_batch_size(device_type: str) -> int:
    """Sequences generated together by default: 64 on a CPU, 128 on a GPU.

    Decoding a small model is bound by per-step overhead and weight reads, so a larger batch shares each
    step among more rows (``bench/real_eval_speed.py`` and ``bench/generation_throughput.py`` measure it);
    128 rows keep the KV cache small beside training on a 16 GB GPU; large evaluations want ``--backend vllm``.
    """
    return 128 if device_type == "cuda" else 64


@contextlib.contextmanager
def inference_mode(model) -> Iterator[None]:
    """Eval mode and no autograd for the duration, then the model's training flag as it was (training
    evaluates mid-run: dropout must be off while it generates, and back on after)."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def _generation_config(model, tokenizer, max_new_tokens: int, num_samples: int, temperature: float,
                       min_new_tokens: int, cache: str | None, compile: bool):
    from transformers import CompileConfig, GenerationConfig

    # explicit neutral values: left unset, they would be filled in from the model's own file
    sampling = {"temperature": temperature, "top_k": 0, "top_p": 1.0} if temperature > 0 else {}
    gc = GenerationConfig(
        max_new_tokens=max_new_tokens,
        min_new_tokens=min_new_tokens,
        do_sample=temperature > 0,
        repetition_penalty=1.0,  # applies to greedy decoding too
        no_repeat_ngram_size=0,
        num_return_sequences=num_samples,
        eos_token_id=_eos_ids(model, tokenizer),
        pad_token_id=_pad_id(tokenizer),
        use_cache=True,  # training with gradient checkpointing turns it off in the model config
        cache_implementation=cache,
        disable_compile=not compile,
        **sampling,
    )
    if compile:
        gc.compile_config = CompileConfig(fullgraph=False, dynamic=False)
        gc.compile_config._compile_all_devices = True  # transformers compiles on GPUs only unless told
    return gc


def _eos_ids(model, tokenizer) -> list[int]:
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def _pad_id(tokenizer) -> int:
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id


def _stopping_criteria(model, tokenizer, stop: str | None):
    """A StoppingCriteria class bound to this tokenizer: stops rows at EOS or ``stop``, recording the step.

    transformers' ``StopStringCriteria`` finds ``stop`` (also ending inside a token); it is wrapped,
    not passed as ``stop_strings``, because the token counts and the truncation rate need each row's end.
    """
    import torch
    from transformers import StoppingCriteria, StopStringCriteria

    stop_string = StopStringCriteria(tokenizer, [stop]) if stop else None
    eos = torch.tensor(_eos_ids(model, tokenizer), dtype=torch.long)

    class StopAndRecord(StoppingCriteria):
        def __init__(self, prompt_len: int, rows: int, device):
            self.prompt_len = prompt_len
            self.eos = eos.to(device)
            self.finished_at = torch.zeros(rows, dtype=torch.long, device=device)  # 0: not finished

        def __call__(self, input_ids, scores, **kwargs):
            done = torch.isin(input_ids[:, -1], self.eos)
            if stop_string is not None:
                done |= stop_string(input_ids, scores)
            step = input_ids.shape[1] - self.prompt_len
            self.finished_at = torch.where(done & (self.finished_at == 0), step, self.finished_at)
            return self.finished_at > 0

    return StopAndRecord


def encode_chat(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of a chat prompt, rendered as training renders it (:func:`minir1.prompts.render_prompt`):
    the assistant turn opened, or continued when the last message is the assistant's prefill."""
    text = render_prompt(tokenizer, messages)
    # the template already wrote every special token the model expects
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _trim(text: str, stop: str | None) -> str:
    head, found, _ = text.partition(stop) if stop else (text, "", "")
    return head + found


def generate(model, tokenizer, prompts: list[list[dict]], **options) -> list[list[Generation]]:
    """Generate ``num_samples`` completions per chat prompt with Hugging Face transformers: :func:`generate_tokens`
    (the same keyword ``options``; ``max_new_tokens`` required) on the prompts as :func:`encode_chat` renders them."""
    return generate_tokens(model, tokenizer, [encode_chat(tokenizer, p) for p in prompts], **options)


def generate_tokens(model, tokenizer, encoded: list[list[int]], *, max_new_tokens: int, batch_size: int | None = None,
                    num_samples: int = 1, temperature: float = 0.0, seed: int = 0, on_batch: OnBatch | None = None,
                    stop: str | None = None, min_new_tokens: int = 0, cache: str | None = None,
                    compile: bool = False, streamer=None) -> list[list[Generation]]:
    """Generate ``num_samples`` completions per prompt given as token ids (:func:`generate` takes chat prompts).

    ``temperature`` 0 is greedy (then ``num_samples`` must be 1). ``batch_size`` counts sequences
    (prompts x samples). Sampling seeds a private copy of the random state, so the caller's stream is
    untouched. ``cache`` (``"static"``, or None for the dynamic cache) and ``compile`` are what the benchmarks
    compare; ``min_new_tokens`` with ``stop=None`` forces full-length generation. A ``streamer`` (one
    prompt, one sample) receives the tokens as they come.
    """
    import torch

    check_whole("num_samples", num_samples)
    if temperature < 0:
        raise UserError(f"temperature must be 0 (greedy) or more, got {temperature}")
    if temperature == 0 and num_samples > 1:
        raise UserError(f"{num_samples} samples per prompt need a temperature above 0 (greedy gives one answer)")
    check_whole("max_new_tokens", max_new_tokens)
    if not encoded:
        return []
    device = next(model.parameters()).device
    per_batch = max(1, (batch_size or default_batch_size(device.type)) // num_samples)
    config = _generation_config(model, tokenizer, max_new_tokens, num_samples, temperature, min_new_tokens, cache,
                                compile)
    criteria = _stopping_criteria(model, tokenizer, stop)
    pad = _pad_id(tokenizer)
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    results: list[list[Generation]] = [[] for _ in encoded]

    # sampling draws from a seeded fork of the random state; greedy draws no random numbers
    forked = torch.random.fork_rng(devices=[device] if device.type == "cuda" else [], enabled=temperature > 0)
    with inference_mode(model), forked:
        if temperature > 0:
            torch.manual_seed(seed)
        for start in range(0, len(order), per_batch):
            batch = order[start : start + per_batch]
            width = max(len(encoded[i]) for i in batch)
            # left padding: every prompt ends where generation starts
            ids = torch.tensor([[pad] * (width - len(encoded[i])) + list(encoded[i]) for i in batch], dtype=torch.long)
            mask = torch.tensor([[0] * (width - len(encoded[i])) + [1] * len(encoded[i]) for i in batch],
                                dtype=torch.long)
            stopper = criteria(width, len(batch) * num_samples, device)
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=config,
                                 stopping_criteria=[stopper], streamer=streamer)
            gens = _decode(tokenizer, out[:, width:].tolist(), stopper.finished_at.tolist(), stop)
            grouped = [gens[k * num_samples : (k + 1) * num_samples] for k in range(len(batch))]
            for i, g in zip(batch, grouped, strict=True):
                results[i] = g
            if on_batch is not None:
                on_batch(batch, grouped)
    return results


def _decode(tokenizer, rows: list[list[int]], finished_at: list[int], stop: str | None) -> list[Generation]:
    """Generations from generated ids; a row finished at step k keeps its first k tokens (0: never finished)."""
    out = []
    for tokens, at in zip(rows, finished_at, strict=True):
        n = at or len(tokens)
        out.append(Generation(_trim(tokenizer.decode(tokens[:n], skip_special_tokens=True), stop), n, at == 0))
    return out


def stream(model, tokenizer, messages: list[dict], *, on_text: Callable[[str], None], max_new_tokens: int,
           temperature: float = 0.0, seed: int = 0, stop: str | None = None) -> Generation:
    """Generate one completion, handing its text to ``on_text`` word by word (nothing after ``stop``);
    returns the :class:`Generation` that :func:`generate` would."""
    from transformers import TextStreamer

    class Streamer(TextStreamer):
        sent = ""

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            # cut at the stop string: the last token may carry text beyond it
            full = _trim(self.sent + text, stop)
            if len(full) > len(self.sent):
                on_text(full[len(self.sent) :])
                self.sent = full

    streamer = Streamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    return generate_tokens(model, tokenizer, [encode_chat(tokenizer, messages)], max_new_tokens=max_new_tokens,
                           temperature=temperature, seed=seed, stop=stop, streamer=streamer)[0][0]


# --- vLLM ---------------------------------------------------------------------------------

# Sequences handed to vLLM at once: it schedules within them, and results are saved after each chunk.
VLLM_BATCH = 1024


def import_vllm():
    """The vllm module, or a UserError saying how to install it."""
    try:
        import vllm
    except ImportError:
        raise UserError("the vllm backend needs vLLM: pip install 'minir1[vllm]' (Linux with a CUDA GPU), "
                        "or use --backend hf") from None
    return vllm


class VLLMGenerator:
    """The :func:`generate` contract on a vLLM engine, which loads the model itself (and serves a LoRA
    adapter as one, unmerged)."""

    def __init__(self, model: str, *, adapter: str | None = None, dtype: str = "auto", seed: int = 0,
                 trust_remote_code: bool = False):
        self._vllm = vllm = import_vllm()
        kwargs: dict = {"model": model, "dtype": dtype, "seed": seed, "trust_remote_code": trust_remote_code}
        self._lora = None
        if adapter:
            from vllm.lora.request import LoRARequest

            rank = json.loads((Path(adapter) / "adapter_config.json").read_text()).get("r", 16)
            kwargs.update(enable_lora=True, max_lora_rank=max(8, rank))
            self._lora = LoRARequest("adapter", 1, str(adapter))
        self.llm = vllm.LLM(**kwargs)

    def __call__(self, prompts: list[list[dict]], *, max_new_tokens: int, batch_size: int | None = None,
                 num_samples: int = 1, temperature: float = 0.0, seed: int = 0,
                 on_batch: OnBatch | None = None, stop: str | None = None) -> list[list[Generation]]:
        if temperature == 0 and num_samples > 1:
            raise UserError(f"{num_samples} samples per prompt need a temperature above 0 (greedy gives one answer)")
        # SamplingParams' own defaults are neutral (no top-k/top-p, no penalty), unlike LLM's model defaults.
        params = self._vllm.SamplingParams(n=num_samples, temperature=temperature, max_tokens=max_new_tokens,
                                           stop=[stop] if stop else None, include_stop_str_in_output=True,
                                           seed=seed)
        per_batch = max(1, (batch_size or VLLM_BATCH) // num_samples)
        results: list[list[Generation]] = []
        for start in range(0, len(prompts), per_batch):
            chunk = prompts[start : start + per_batch]
            template = open_turn(chunk[0])  # vLLM renders a whole chunk by one rule: render_prompt's
            if any(open_turn(p) != template for p in chunk):
                raise ValueError("a vLLM chunk mixes prompts with and without a prefill")
            outputs = self.llm.chat(chunk, params, use_tqdm=False, lora_request=self._lora, **template)
            grouped = [[Generation(o.text, len(o.token_ids), o.finish_reason == "length") for o in req.outputs]
                       for req in outputs]
            results.extend(grouped)
            if on_batch is not None:
                on_batch(list(range(start, start + len(chunk))), grouped)
        return results
