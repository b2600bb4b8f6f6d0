"""Tag styles and chat prompts.

A *tag style* names the tags a model reasons in: ``think`` (Mini-R1's) or ``reasoning`` (the GRPO
notebook's), each followed by ``<answer>…</answer>``. A problem becomes a chat prompt (system + user
message, :func:`build_prompt`), the form TRL's GRPOTrainer expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError


@dataclass(frozen=True)
class TagStyle:
    """The tags of one style, e.g. ``<think>`` and ``</think>``, and the system prompt asking for them."""

    name: str
    open: str
    close: str
    system_prompt: str


_SYSTEM_PROMPT = (
    "You are a helpful assistant that solves math word problems. "
    "First think through the problem step by step inside {open} {close} tags. "
    "Then give only the final answer, a single number, inside <answer> </answer> tags. "
    "Respond exactly in this format:\n"
    "{open}\n...\n{close}\n<answer>\n...\n</answer>"
)
STYLES: dict[str, TagStyle] = {
    name: TagStyle(name, f"<{name}>", f"</{name}>", _SYSTEM_PROMPT.format(open=f"<{name}>", close=f"</{name}>"))
    for name in ("think", "reasoning")
}
DEFAULT_STYLE = "think"

_CALCULATOR = re.compile(r"<<[^<>]*>>")


def get_style(name: str) -> TagStyle:
    """The tag style called ``name``; a UserError listing the choices otherwise (never a silent fallback:
    a typo in a recipe or a dataset column would score every completion 0)."""
    style = STYLES.get(name) if isinstance(name, str) else None
    if style is None:
        raise UserError(f"unknown tag style {name!r}: choose one of {', '.join(STYLES)}")
    return style


def build_prompt(question: str, style: str = DEFAULT_STYLE, system_prompt: str | None = None,
                 prefill: str | None = None) -> list[dict]:
    """A chat prompt for one problem: the style's system prompt (or ``system_prompt``) and the question,
    then a non-empty ``prefill`` as an opened assistant message for the model to continue.

    >>> build_prompt("Q?", prefill="<think>\\n")[-1]
    {'role': 'assistant', 'content': '<think>\\n'}
    """
    tag_style = get_style(style)  # an unknown style is an error even with a custom system prompt
    if prefill is not None and not isinstance(prefill, str):
        raise UserError(f"prefill must be text, got {type(prefill).__name__}")
    system = system_prompt if system_prompt is not None else tag_style.system_prompt
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    if prefill:
        messages.append({"role": "assistant", "content": prefill})
    return messages


def open_turn(messages: list[dict]) -> dict:
    """The chat-template flags that leave the assistant turn open for the model to write in: a final assistant
    prefill is continued (no end-of-turn token after it), else the assistant header is added."""
    prefilled = bool(messages) and messages[-1].get("role") == "assistant"
    return {"add_generation_prompt": not prefilled, "continue_final_message": prefilled}


def render_prompt(tokenizer, messages: list[dict]) -> str:
    """A chat prompt as text, with the assistant turn open (:func:`open_turn`)."""
    return tokenizer.apply_chat_template(messages, tokenize=False, **open_turn(messages))


def format_completion(reasoning: str, answer: str, style: str = DEFAULT_STYLE) -> str:
    """A completion in exactly the prompted format, e.g. for warm starts and tests.

    >>> format_completion("2 + 3 = 5", "5", "think")
    '<think>\\n2 + 3 = 5\\n</think>\\n<answer>\\n5\\n</answer>'
    """
    s = get_style(style)
    return f"{s.open}\n{reasoning.strip()}\n{s.close}\n<answer>\n{answer.strip()}\n</answer>"


def solution_steps(solution: str) -> str:
    """The worked steps of a GSM8K solution, without the ``#### N`` line or calculator annotations
    (``16-3=<<16-3=13>>13`` becomes ``16-3=13``)."""
    return _CALCULATOR.sub("", solution.rsplit("####", 1)[0]).strip()


def with_worked_example(problem, style: str = DEFAULT_STYLE) -> str:
    """The style's system prompt followed by one worked problem answered in exactly the prompted format.

    The ``mini-r1`` recipe's prompt (with the first GSM8K train problem): a real instruct model follows
    the format far more often with it (the cold start in BENCHMARKS.md).
    """
    return (f"{get_style(style).system_prompt}\n\nExample.\nQuestion: {problem.question}\nResponse:\n"
            + format_completion(solution_steps(problem.solution), str(problem.answer), style))
