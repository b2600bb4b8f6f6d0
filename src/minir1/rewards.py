"""Reward functions and the schemes that combine them (``docs/rewards.md`` says why each rule exists).

Every reward follows TRL's contract, ``fn(completions, **dataset_columns) -> list[float | None]``, with
the columns ``answer`` (the gold), ``tag_style`` (``"think"`` or ``"reasoning"``; an unknown one is a
UserError) and ``prefill`` (the text that opened the assistant turn, judged with the completion as one
text). Each scores in [0, 1]; a scheme's weight is what a reward is worth in points. Rewards are
module-level (picklable), named as their metric keys (``rewards/correctness/mean``), and linear in the
completion: tags are found with ``str.count``/``str.find``, never with backtracking regexes.

    >>> done = "<think>\\n9 * 2 = 18\\n</think>\\n<answer>\\n18\\n</answer>"
    >>> format_rubric([done]), correctness([done], answer=["18"])
    ([1.0], [1.0])
    >>> format_rubric([done.removeprefix("<think>\\n")], prefill=["<think>\\n"])
    [1.0]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from . import answers
from .errors import UserError
from .prompts import DEFAULT_STYLE, TagStyle, get_style

ANSWER_OPEN, ANSWER_CLOSE = answers.ANSWER_OPEN, answers.ANSWER_CLOSE


def completion_text(completion) -> str:
    """The text of a completion given as a string or as chat messages (their contents, joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content", ""))
    if isinstance(completion, (list, tuple)):
        return "".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in completion)
    return "" if completion is None else str(completion)


def texts(completions, prefill=None) -> list[str]:
    """The text each reward judges: the prefill (None, one string for all, or one per completion;
    None or "" mean none) followed by the completion's text.

    >>> texts(["9 = 9</think>"], prefill="<think>")
    ['<think>9 = 9</think>']
    """
    out = [completion_text(c) for c in completions]
    return [_prefix(p) + t for p, t in zip(_per_row(prefill, len(out)), out, strict=True)]


def _prefix(prefill) -> str:
    if prefill is not None and not isinstance(prefill, str):
        raise UserError(f"prefill must be text or None, got {type(prefill).__name__}")
    return prefill or ""


def _per_row(column, n: int) -> Sequence:
    """A column as TRL may pass it: None or one string stands for all ``n`` rows, else one value per row."""
    return [column] * n if column is None or isinstance(column, str) else column


def _styles(tag_style, n: int) -> list[TagStyle]:
    """The tag style of each of ``n`` rows (None: the default). An unknown one is a UserError, also in rewards
    that read only the answer block."""
    return [get_style(DEFAULT_STYLE if style is None else style) for style in _per_row(tag_style, n)]


# --- mini-r1: the format rubric, and correctness (shared) ---------------------------------

# Points of each rule, in the order the rubric checks them.
RUBRIC = (
    ("reasoning open tag exactly once", 1),
    ("reasoning close tag exactly once", 1),
    ("answer open tag exactly once", 1),
    ("answer close tag exactly once", 1),
    ("tags in order: reasoning, then answer", 2),
    ("nothing before the reasoning block", 1),
    ("nothing after the answer block", 2),
    ("nothing between the two blocks", 1),
    ("reasoning is not empty", 1),
    ("answer is a bare number", 2),
)
RUBRIC_POINTS = sum(points for _, points in RUBRIC)


def rubric_points(text: str, style: str = DEFAULT_STYLE) -> list[int]:
    """Points earned on each rule of :data:`RUBRIC` (the last six need the first four)."""
    s = get_style(style)
    ok = [text.count(t) == 1 for t in (s.open, s.close, ANSWER_OPEN, ANSWER_CLOSE)]
    if blocks := _blocks_in_order(text, s):
        a, b, c, d = blocks
        ok += [
            True,
            not text[:a].strip(),
            not text[d + len(ANSWER_CLOSE) :].strip(),
            not text[b + len(s.close) : c].strip(),
            bool(text[a + len(s.open) : b].strip()),
            answers.is_bare_number(text[c + len(ANSWER_OPEN) : d]),
        ]
    ok += [False] * (len(RUBRIC) - len(ok))
    return [points if passed else 0 for (_, points), passed in zip(RUBRIC, ok, strict=True)]


def format_rubric(completions, tag_style=None, prefill=None, **kwargs) -> list[float]:
    """Mini-R1's strict format score as a fraction of :data:`RUBRIC_POINTS` (see :data:`RUBRIC`)."""
    styles = _styles(tag_style, len(completions))
    return [sum(rubric_points(t, s.name)) / RUBRIC_POINTS
            for t, s in zip(texts(completions, prefill), styles, strict=True)]


def correctness(completions, answer=None, tag_style=None, prefill=None, **kwargs) -> list[float | None]:
    """1.0 when the answer block holds the gold number (:func:`minir1.answers.check`), else 0.0;
    None for a row whose gold has no number (TRL then skips it)."""
    if answer is None:
        raise TypeError("correctness needs the gold answers: pass answer=[...] (a dataset column)")
    _styles(tag_style, len(completions))  # an unknown tag style is an error even here
    golds = [answers.parse_gold(gold) for gold in answer]
    return [None if gold is None else float(answers.check(text, gold).correct)
            for text, gold in zip(texts(completions, prefill), golds, strict=True)]


def lenient_correctness(completions, answer=None, tag_style=None, prefill=None, **kwargs) -> list[float | None]:
    """1.0 when the last number anywhere is the gold (:func:`minir1.answers.lenient_check`, evaluation's lenient
    verdict), else 0.0; None for a row whose gold has no number. A completion with full format marks that
    :func:`correctness` pays, it pays too (its answer block holds the last number); it also pays a right answer
    the strict checker refuses, such as one outside the tags before the format is learned.

    >>> lenient_correctness(["9 * 2 = 18, so 18 eggs.", "<answer>18</answer>"], answer=["18", "18"])
    [1.0, 1.0]
    """
    if answer is None:
        raise TypeError("lenient_correctness needs the gold answers: pass answer=[...] (a dataset column)")
    _styles(tag_style, len(completions))
    golds = [answers.parse_gold(gold) for gold in answer]
    return [None if gold is None else float(answers.lenient_check(text, gold))
            for text, gold in zip(texts(completions, prefill), golds, strict=True)]


# --- grpo-demo: the GRPO notebook's five rewards (here each in [0, 1]) ----------------------

def xml_count(completions, tag_style=None, prefill=None, **kwargs) -> list[float]:
    """A quarter for each of the four newline-framed tags found exactly once, less 0.002 per
    character after the final ``</answer>`` (never below zero)."""
    out = []
    for text, s in zip(texts(completions, prefill), _styles(tag_style, len(completions)), strict=True):
        pieces = (f"{s.open}\n", f"\n{s.close}\n", f"\n{ANSWER_OPEN}\n", f"\n{ANSWER_CLOSE}")
        score = 0.25 * sum(text.count(p) == 1 for p in pieces)
        end = text.rfind(f"\n{ANSWER_CLOSE}")
        if end != -1:
            after = end + len(ANSWER_CLOSE) + 1  # first character after "\n</answer>"
            trailing = len(text) - after - text.startswith("\n", after)  # one newline is free
            score -= min(score, 0.002 * trailing)
        out.append(score)
    return out


def _blocks_in_order(text: str, s: TagStyle) -> tuple[int, int, int, int] | None:
    """Positions of the four tags when each occurs exactly once and in order, else None."""
    tags = (s.open, s.close, ANSWER_OPEN, ANSWER_CLOSE)
    if any(text.count(t) != 1 for t in tags):
        return None
    pos = tuple(text.index(t) for t in tags)
    return pos if pos[0] < pos[1] < pos[2] < pos[3] else None


def soft_format(completions, tag_style=None, prefill=None, **kwargs) -> list[float]:
    """1.0 when the completion opens with the reasoning block and the answer block follows it
    (any whitespace, multi-line content, each tag once); trailing text is allowed."""
    out = []
    for text, s in zip(texts(completions, prefill), _styles(tag_style, len(completions)), strict=True):
        pos = _blocks_in_order(text, s)
        ok = pos is not None and not text[: pos[0]].strip() and not text[pos[1] + len(s.close) : pos[2]].strip()
        out.append(1.0 if ok else 0.0)
    return out


def strict_format(completions, tag_style=None, prefill=None, **kwargs) -> list[float]:
    """1.0 for exactly ``<R>\\n…\\n</R>\\n<answer>\\n…\\n</answer>`` (one final newline allowed),
    both blocks non-empty and each tag once."""
    out = []
    for text, s in zip(texts(completions, prefill), _styles(tag_style, len(completions)), strict=True):
        body = text.removesuffix("\n")
        head, tail, sep = f"{s.open}\n", f"\n{ANSWER_CLOSE}", f"\n{s.close}\n{ANSWER_OPEN}\n"
        framed = _blocks_in_order(text, s) and body.startswith(head) and body.endswith(tail)
        # each tag occurs once, so sep occurs at most once
        reasoning, found, answer = body[len(head) : len(body) - len(tail)].partition(sep)
        out.append(1.0 if framed and found and reasoning.strip() and answer.strip() else 0.0)
    return out


def int_answer(completions, tag_style=None, prefill=None, **kwargs) -> list[float]:
    """1.0 when the single answer block holds a bare integer (``18``, ``-3``, ``1,250``)."""
    _styles(tag_style, len(completions))  # an unknown tag style is an error even here
    blocks = (answers.answer_block(text)[0] for text in texts(completions, prefill))
    return [1.0 if content is not None and answers.is_bare_number(content, integer=True) else 0.0 for content in blocks]


# --- registry and schemes -----------------------------------------------------------------

RewardFn = Callable[..., list]
REWARDS: dict[str, RewardFn] = {
    fn.__name__: fn for fn in (format_rubric, correctness, lenient_correctness, xml_count, soft_format,
                               strict_format, int_answer)
}
# The rewards that judge the answer; every other reward judges the format (health warnings, progress bar).
CORRECTNESS = ("correctness", "lenient_correctness")

SCHEMES: dict[str, dict] = {
    "mini-r1": {"style": "think", "rewards": {"format_rubric": 13.0, "correctness": 10.0}},
    "grpo-demo": {"style": "reasoning", "rewards": {
        "xml_count": 0.5, "soft_format": 0.5, "strict_format": 0.5, "int_answer": 0.5, "correctness": 2.0}},
}


DEFAULT_SCHEME = "mini-r1"


def scheme_weights(scheme: str, names: Sequence[str]) -> list[float]:
    """The scheme's weight of each reward; for one it lacks, the scheme's ``correctness`` weight when the reward
    judges the answer (:data:`CORRECTNESS`), else 1.

    >>> scheme_weights("mini-r1", ["format_rubric", "lenient_correctness", "xml_count"])
    [13.0, 10.0, 1.0]
    """
    weights = get_scheme(scheme)["rewards"]
    return [float(weights.get(n, weights.get("correctness", 1.0) if n in CORRECTNESS else 1.0)) for n in names]


def chosen_rewards(scheme: str, names: Sequence[str] | None = None,
                   weights: Sequence[float | str] | None = None) -> tuple[list[str], list[float]]:
    """The rewards and weights a run trains with: ``names``, else the scheme's; ``weights``, else
    :func:`scheme_weights`. One rule for ``minir1 train`` and ``minir1 score --config``.

    >>> chosen_rewards("mini-r1", ["format_rubric", "lenient_correctness"])
    (['format_rubric', 'lenient_correctness'], [13.0, 10.0])
    """
    names = list(names) if names is not None else list(get_scheme(scheme)["rewards"])
    if not names:
        raise UserError("rewards is empty: name at least one reward, e.g. --rewards correctness")
    return names, [float(w) for w in weights] if weights is not None else scheme_weights(scheme, names)


def get_scheme(name: str) -> dict:
    """The scheme called ``name`` (``{"style": ..., "rewards": {reward: weight}}``)."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise UserError(f"unknown reward scheme {name!r}: choose one of {', '.join(SCHEMES)}") from None


def resolve(names: Sequence[str], weights: Sequence[float] | None = None) -> tuple[list[RewardFn], list[float]]:
    """Reward functions and weights for reward names (weights default to 1.0 each).

    >>> fns, weights = resolve(["format_rubric", "correctness"], [13, 10])
    >>> [f.__name__ for f in fns], weights
    (['format_rubric', 'correctness'], [13.0, 10.0])
    """
    fns = [get_reward(n) for n in names]
    keys = [fn.__name__ for fn in fns]
    if len(set(keys)) != len(keys):
        raise UserError(f"reward names must be unique (they become metric keys), got {keys}")
    weights = [1.0] * len(names) if weights is None else weights
    if len(weights) != len(names):
        raise UserError(f"got {len(weights)} reward weights for {len(names)} rewards: give one weight per reward")
    return fns, [float(w) for w in weights]


class UnscoredWhenCut:
    """``fn`` with no reward (None) for a completion cut at the length limit: its last token is neither an
    end-of-sequence nor padding, TRL's own test of truncation. A completion with None from every reward is one TRL
    leaves out of its group's mean and spread, with advantage 0, so a cut reply is neither credited nor blamed and
    finishing sooner earns nothing by itself. ``stop_ids`` is a list the trainer's ids are put in once it has loaded
    the tokenizer. Picklable, and named like ``fn``, so metric keys do not change.

    >>> cut = UnscoredWhenCut(format_rubric, stop_ids=[0])
    >>> cut(["<think>a</think><answer>1</answer>", "<think>a"], completion_ids=[[5, 0], [5, 6]])
    [1.0, None]
    """

    def __init__(self, fn: RewardFn, stop_ids: list[int]):
        self.fn, self.__name__, self.stop_ids = fn, fn.__name__, stop_ids

    def __call__(self, completions, completion_ids, **kwargs) -> list[float | None]:
        if not self.stop_ids:
            raise RuntimeError("UnscoredWhenCut has no stop ids: fill its list once the tokenizer is loaded")
        out = self.fn(completions, completion_ids=completion_ids, **kwargs)
        return [None if ids and ids[-1] not in self.stop_ids else r
                for r, ids in zip(out, completion_ids, strict=True)]


def reward_key(name: str) -> str:
    """The metric key of a reward name: ``rewards/<key>/mean``. ``pkg.mod:length`` -> ``length``."""
    return name.rpartition(":")[2]


def get_reward(name: str) -> RewardFn:
    """A reward by name: a built-in one, or your own as ``module.path:function`` (importable, module-level)."""
    if name in REWARDS:
        return REWARDS[name]
    if ":" not in name:
        raise UserError(f"unknown reward {name!r}: choose from {', '.join(REWARDS)}, or give module.path:function")
    module, _, attr = name.partition(":")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise UserError(f"cannot import reward {name!r}: {e}") from None
    if not callable(fn) or getattr(fn, "__name__", None) != attr:
        raise UserError(f"reward {name!r} must be a module-level function named {attr!r}")
    return fn


def score(completions, answer, rewards: dict[str, float], tag_style=None, prefill=None) -> list[dict]:
    """Weighted rewards of each completion, ``{"rewards": {name: points}, "total": points}``;
    ``tag_style`` and ``prefill`` reach every reward as TRL passes dataset columns."""
    _styles(tag_style, len(completions))  # before any work: an unknown style is an error, not a zero score
    columns = {name: get_reward(name)(completions, answer=answer, tag_style=tag_style, prefill=prefill)
               for name in rewards}
    rows = [{name: (col[i] or 0.0) * rewards[name] for name, col in columns.items()} for i in range(len(completions))]
    return [{"rewards": points, "total": sum(points.values())} for points in rows]
