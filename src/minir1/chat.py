"""``minir1 chat``: ask a model a question and watch it reason.

The reply streams with the prompt, decoding and stop rule of ``minir1 eval`` (greedy unless a temperature is
given), then is judged by its rules: what you see is what the reward would judge.
"""

from __future__ import annotations

import contextlib
import sys
from functools import partial
from typing import TextIO

from . import answers
from .errors import UserError
from .evaluate import EvalSettings, format_ok
from .prompts import DEFAULT_STYLE, build_prompt

# The evaluation settings chat takes (its options are built from EvalSettings); its temperature is its own.
SETTINGS = ("model", "adapter", "tag_style", "system_prompt", "prefill", "stop_at_answer", "max_new_tokens", "dtype")


def chat(model, tokenizer, question: str, *, style: str = DEFAULT_STYLE, system_prompt: str | None = None,
         prefill: str | None = None, stop_at_answer: bool = False, max_new_tokens: int = 512,
         temperature: float = 0.0, out: TextIO | None = None) -> dict:
    """Answer one question, streaming the reply to ``out`` (standard output), then a verdict line.

    Returns ``{"prefill", "completion", "extracted", "well_formed", "reason", "format_ok", "tokens",
    "truncated"}``: ``completion`` is the text generated after ``prefill``, the verdict is on both.
    """
    from .generation import stream

    write = partial(print, end="", file=out or sys.stdout, flush=True)
    if prefill:
        write(prefill)
    gen = stream(model, tokenizer, build_prompt(question, style, system_prompt, prefill=prefill), on_text=write,
                 max_new_tokens=max_new_tokens, temperature=temperature,
                 stop=answers.ANSWER_CLOSE if stop_at_answer else None)
    text = (prefill or "") + gen.text
    value, reason = answers.extract(text)
    result = {"prefill": prefill, "completion": gen.text,
              "extracted": answers.format_number(value) if value is not None else None,
              "well_formed": value is not None, "reason": reason, "format_ok": format_ok(text, style),
              "tokens": gen.tokens, "truncated": gen.truncated}
    write("\n" + verdict_line(result) + "\n")
    return result


def verdict_line(result: dict) -> str:
    """One line saying what became of the reply: the answer, or why there is none."""
    cut = f", cut off at {result['tokens']} tokens" if result["truncated"] else ""
    shape = "format ok" if result["format_ok"] else "format not followed"
    if result["well_formed"]:
        return f"[answer: {result['extracted']} (well-formed answer block, {shape}{cut})]"
    return f"[no answer: {result['reason']} ({shape}{cut})]"


def cli_chat(args) -> int:
    """``minir1 chat``: one QUESTION, or questions read from the terminal until an empty line or EOF."""
    from .models import ModelSpec, load_for_inference

    if args.question is not None and not args.question.strip():
        raise UserError("the question is empty: ask something, or leave QUESTION out to type questions one by one")
    if args.temperature < 0:
        raise UserError(f"--temperature must be 0 (greedy) or more, got {args.temperature}")
    s = EvalSettings(**{name: getattr(args, name) for name in SETTINGS}).resolve()  # a run folder's prompt too
    model, tokenizer = load_for_inference(ModelSpec(s.model, s.adapter), s.dtype, args.trust_remote_code)
    ask = partial(chat, model, tokenizer, style=s.tag_style, system_prompt=s.system_prompt, prefill=s.prefill,
                  stop_at_answer=s.stop_at_answer, max_new_tokens=s.max_new_tokens, temperature=args.temperature)
    if args.question is not None:
        ask(args.question)
        return 0
    with contextlib.suppress(EOFError):
        while (question := input("question> ")).strip():
            ask(question)
    return 0
