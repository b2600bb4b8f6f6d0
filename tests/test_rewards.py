"""Reward functions: full marks where due, partial credit by the rubric, fuzzing, pickling, speed guards."""

import math
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minir1 import rewards
from minir1.data import load_problems
from minir1.errors import UserError
from minir1.prompts import format_completion, solution_steps
from minir1.rewards import REWARDS, RUBRIC_POINTS, SCHEMES, chosen_rewards, resolve, rubric_points, score, texts

TAGS = ["<think>", "</think>", "<reasoning>", "</reasoning>", "<answer>", "</answer>", "\n", " ", "18", "1,250", "x"]


def total(completion, gold, scheme):
    spec = SCHEMES[scheme]
    return score([completion], [gold], spec["rewards"], tag_style=spec["style"])[0]["total"]


def test_rubric_is_worth_13_points_and_schemes_their_totals():
    assert RUBRIC_POINTS == 13
    assert sum(SCHEMES["mini-r1"]["rewards"].values()) == 23
    assert sum(SCHEMES["grpo-demo"]["rewards"].values()) == 4.0


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_every_test_gold_in_the_prompted_format_scores_full_marks(scheme):
    """A correctly formatted completion built from each of the 1,319 test golds earns the maximum."""
    spec = SCHEMES[scheme]
    problems = load_problems("gsm8k:test")
    completions = [format_completion(solution_steps(p.solution), p.answer, spec["style"]) for p in problems]
    scored = score(completions, [p.solution for p in problems], spec["rewards"], tag_style=spec["style"])
    best = sum(spec["rewards"].values())
    assert [s["total"] for s in scored] == [best] * len(problems)


def test_a_wrong_answer_earns_at_most_the_format_points():
    done = format_completion("9 * 2 = 19", "19", "think")
    assert total(done, 18, "mini-r1") == 13


@pytest.mark.parametrize(
    "completion, points",
    [
        ("<think>\nsteps\n</think>\n<answer>\n18\n</answer>", 13),
        ("  <think>steps</think>  <answer>18</answer>\n", 13),  # whitespace anywhere outside is fine
        ("<think>\nsteps\n</think>\n<answer>\n$18\n</answer>", 11),  # not a bare number
        ("<think>\n\n</think>\n<answer>\n18\n</answer>", 12),  # empty reasoning
        ("Sure! <think>\nsteps\n</think>\n<answer>\n18\n</answer>", 12),  # text before
        ("<think>\nsteps\n</think>\n<answer>\n18\n</answer> Hope this helps", 11),  # text after
        ("<think>\nsteps\n</think>\nSo:\n<answer>\n18\n</answer>", 12),  # text between
        ("<answer>\n18\n</answer><think>\nsteps\n</think>", 4),  # out of order
        ("<think>\nsteps\n<answer>\n18\n</answer>", 3),  # no closing reasoning tag
        ("<think>a</think><think>b</think><answer>18</answer>", 2),  # two reasoning blocks
        ("<think>a</think><answer>18</answer><answer>18</answer>", 2),
        ("18", 0),
        ("", 0),
    ],
)
def test_format_rubric_partial_credit(completion, points):
    assert sum(rubric_points(completion, "think")) == points
    assert rewards.format_rubric([completion]) == [points / 13]


def test_format_rubric_follows_the_tag_style():
    text = "<reasoning>\nsteps\n</reasoning>\n<answer>\n18\n</answer>"
    assert rewards.format_rubric([text], tag_style=["reasoning"]) == [1.0]
    assert rewards.format_rubric([text], tag_style=["think"]) == [2 / 13]


@pytest.mark.parametrize(
    "completion, expected",
    [
        # xml_count, soft_format, strict_format, int_answer, correctness (each in [0, 1])
        ("<reasoning>\nsteps\nmore\n</reasoning>\n<answer>\n18\n</answer>\n", [1, 1, 1, 1, 1]),
        ("<reasoning>\nsteps\n</reasoning>\n<answer>\n18\n</answer>", [1, 1, 1, 1, 1]),
        ("<reasoning>steps</reasoning> <answer>18</answer>", [0, 1, 0, 1, 1]),  # soft only
        ("<reasoning>\nsteps\n</reasoning>\n<answer>\n18.5\n</answer>\n", [1, 1, 1, 0, 0]),
        ("<reasoning>\nsteps\n</reasoning>\n<answer>\n18\n</answer>\n" + "x" * 100, [0.8, 1, 0, 1, 1]),
        ("<reasoning>\nsteps\n</reasoning>\n<answer>\n18\n</answer>\n" + "x" * 1000, [0, 1, 0, 1, 1]),
        ("Sure.\n<reasoning>\nsteps\n</reasoning>\n<answer>\n18\n</answer>", [1, 0, 0, 1, 1]),
        ("<reasoning>\n\n</reasoning>\n<answer>\n18\n</answer>", [1, 1, 0, 1, 1]),
        ("", [0, 0, 0, 0, 0]),
    ],
)
def test_grpo_demo_rewards(completion, expected):
    names = list(SCHEMES["grpo-demo"]["rewards"])
    got = [REWARDS[n]([completion], answer=["18"], tag_style=["reasoning"])[0] for n in names]
    assert got == pytest.approx(expected)


def test_chat_message_completions_are_accepted():
    messages = [{"role": "assistant", "content": "<think>\nx\n</think>\n<answer>\n18\n</answer>"}]
    assert rewards.correctness([messages], answer=["18"]) == [1.0]
    assert rewards.format_rubric([messages]) == [1.0]


def test_unscorable_gold_gives_none():
    assert rewards.correctness(["<answer>1</answer>"], answer=["no number"]) == [None]
    assert rewards.lenient_correctness(["<answer>1</answer>"], answer=["no number"]) == [None]


def test_lenient_correctness_agrees_with_correctness_on_every_formatted_test_gold():
    """On a completion with full format marks the last number is the answer block's, so the two agree: right
    with its own gold, wrong with the next problem's (where the golds differ)."""
    problems = load_problems("gsm8k:test")
    done = [format_completion(solution_steps(p.solution), p.answer, "think") for p in problems]
    assert set(rewards.format_rubric(done)) == {1.0}
    golds = [p.solution for p in problems]
    assert rewards.lenient_correctness(done, answer=golds) == rewards.correctness(done, answer=golds) == [1.0] * len(done)
    shifted = golds[1:] + golds[:1]
    differ = [p.answer != q.answer for p, q in zip(problems, problems[1:] + problems[:1])]
    assert rewards.lenient_correctness(done, answer=shifted) == rewards.correctness(done, answer=shifted)
    assert [v == 0.0 for v in rewards.correctness(done, answer=shifted)] == differ


@pytest.mark.parametrize("completion, strict, lenient", [
    ("She sells 9 eggs at $2 each, so she makes $18.", 0.0, 1.0),  # right, outside the tags
    ("<think>\n9 * 2 = 18\n</think>\n<answer>\n18\n</answer>", 1.0, 1.0),
    ("<answer>18</answer> Wait, 9 * 2 = 19", 1.0, 0.0),  # the last number anywhere is what counts
    ("<think>\n9 * 2 = 18\n</think>\n<answer>\n17\n</answer>", 0.0, 0.0),
    ("no number at all", 0.0, 0.0),
])
def test_lenient_correctness_takes_the_last_number_anywhere(completion, strict, lenient):
    assert rewards.correctness([completion], answer=["18"]) == [strict]
    assert rewards.lenient_correctness([completion], answer=["#### 18"]) == [lenient]
    assert rewards.lenient_correctness([completion.removeprefix("She")], answer=["18"], prefill="She") == [lenient]


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from([*TAGS, "19", "<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>"]),
                     max_size=30).map("".join))
def test_fuzz_a_formatted_reply_correctness_pays_lenient_correctness_pays_too(text):
    for style in ("think", "reasoning"):
        full = rewards.format_rubric([text], tag_style=[style]) == [1.0]
        if full and rewards.correctness([text], answer=["18"], tag_style=[style]) == [1.0]:
            assert rewards.lenient_correctness([text], answer=["18"], tag_style=[style]) == [1.0], (style, text)


@pytest.mark.parametrize("name", list(REWARDS))
def test_rewards_are_picklable_and_named_by_their_key(name):
    fn = REWARDS[name]
    assert pickle.loads(pickle.dumps(fn)) is fn
    assert fn.__name__ == name


def test_resolve_checks_names_and_weights():
    fns, weights = resolve(["correctness"], [10])
    assert fns == [rewards.correctness] and weights == [10.0]
    with pytest.raises(rewards.UserError, match="unknown reward 'nope'"):
        resolve(["nope"])
    with pytest.raises(rewards.UserError, match="one weight per reward"):
        resolve(["correctness", "format_rubric"], [1.0])
    with pytest.raises(rewards.UserError, match="unique"):
        resolve(["correctness", "correctness"])


def test_a_run_takes_the_rewards_and_weights_given_else_the_schemes():
    assert chosen_rewards("mini-r1") == (["format_rubric", "correctness"], [13.0, 10.0])
    assert chosen_rewards("grpo-demo", ["correctness", "xml_count"]) == (["correctness", "xml_count"], [2.0, 0.5])
    assert chosen_rewards("mini-r1", ["lenient_correctness", "int_answer"]) == (["lenient_correctness", "int_answer"],
                                                                               [10.0, 1.0])
    assert chosen_rewards("mini-r1", ["correctness"], ["3", 4]) == (["correctness"], [3.0, 4.0])  # resolve() checks counts
    with pytest.raises(rewards.UserError, match="unknown reward scheme"):
        chosen_rewards("nope")
    with pytest.raises(rewards.UserError, match="rewards is empty"):
        chosen_rewards("mini-r1", [])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(), st.lists(st.sampled_from(TAGS), max_size=40).map("".join)))
def test_every_reward_is_finite_and_bounded_on_any_text(text):
    for style in ("think", "reasoning"):
        for name, fn in REWARDS.items():
            (value,) = fn([text], answer=["18"], tag_style=[style])
            assert isinstance(value, float) and math.isfinite(value), (name, text)
            assert 0.0 <= value <= 1.0, (name, text, value)


@pytest.mark.timeout(30)  # a guard against quadratic blow-ups, not a speed assertion: see bench/
@pytest.mark.parametrize(
    "text",
    [
        "<answer>" * 50_000,
        "<think>" * 25_000 + "</answer>" * 25_000,
        "1," * 100_000,
        "<think>\n" + "9 * 2 = 18. " * 17_000 + "\n</think>\n<answer>\n18\n</answer>",
        "x" * 200_000 + "<answer>" + "1" * 1000 + "</answer>",
    ],
)
def test_pathological_completions_are_scored(text):
    for style in ("think", "reasoning"):
        for fn in REWARDS.values():
            assert math.isfinite(fn([text], answer=["18"], tag_style=[style])[0])


# --- prefill: the text that opened the assistant turn is judged with the completion ------------

PREFILL = "<think>\n"
RESTS = [
    "9 * 2 = 18\n</think>\n<answer>\n18\n</answer>",
    "steps\n</think>\n<answer>\n$18.00\n</answer>\ntrailing",
    "<think>\nagain\n</think>\n<answer>\n18\n</answer>",
    "no closing tag <answer>18</answer>",
    "",
    "\n</think>\n<answer>\n19\n</answer>",
]


@pytest.mark.parametrize("name", list(REWARDS))
@pytest.mark.parametrize("style", ["think", "reasoning"])
def test_a_prefill_is_judged_with_the_completion_as_one_text(name, style):
    fn = REWARDS[name]
    prefill = PREFILL.replace("think", style)
    rests = [r.replace("think", style) for r in RESTS]
    joined = fn([prefill + r for r in rests], answer=["18"] * len(rests), tag_style=[style] * len(rests))
    as_list = fn(rests, answer=["18"] * len(rests), tag_style=[style] * len(rests), prefill=[prefill] * len(rests))
    as_str = fn(rests, answer=["18"] * len(rests), tag_style=style, prefill=prefill)
    as_messages = fn([[{"role": "assistant", "content": r}] for r in rests], answer=["18"] * len(rests),
                     tag_style=style, prefill=[prefill] * len(rests))
    assert as_list == as_str == as_messages == joined
    assert fn(rests, answer=["18"] * len(rests), tag_style=style, prefill=[None] * len(rests)) == fn(
        rests, answer=["18"] * len(rests), tag_style=style)


@settings(max_examples=100, deadline=None)
@given(rest=st.lists(st.sampled_from(TAGS), max_size=30).map("".join), prefill=st.sampled_from(["<think>\n", "<think>",
                                                                                              "", "Sure. <think>"]))
def test_fuzz_prefill_verdicts_equal_the_joined_text(rest, prefill):
    for scheme, spec in SCHEMES.items():
        with_prefill = score([rest], ["18"], spec["rewards"], tag_style=spec["style"], prefill=[prefill])
        joined = score([prefill + rest], ["18"], spec["rewards"], tag_style=spec["style"])
        assert with_prefill == joined, scheme


def test_texts_joins_prefill_and_completion():
    assert texts(["a", [{"role": "assistant", "content": "b"}]], prefill=["P", None]) == ["Pa", "b"]
    assert texts(["a"], prefill="") == ["a"]
    with pytest.raises(UserError, match="prefill must be text"):
        texts(["a"], prefill=[3])
    with pytest.raises(ValueError):
        texts(["a", "b"], prefill=["P"])  # one prefill per completion, or one for all


@pytest.mark.parametrize("name", list(REWARDS))
def test_an_unknown_tag_style_is_an_error_in_every_reward(name):
    fn = REWARDS[name]
    with pytest.raises(UserError, match="unknown tag style 'thinking'"):
        fn(["<think>x</think><answer>1</answer>"], answer=["1"], tag_style=["thinking"])


def test_an_unknown_tag_style_is_an_error_in_score():
    with pytest.raises(UserError, match="unknown tag style 'nope'"):
        score(["<answer>1</answer>"], ["1"], {"correctness": 1.0}, tag_style="nope")
    with pytest.raises(UserError, match="unknown tag style 'nope'"):
        score(["<answer>1</answer>"], ["1"], {"correctness": 1.0}, tag_style=["think", "nope"][1:])


@pytest.mark.timeout(60)  # a guard against super-linear blow-ups, not a speed assertion: see bench/
@pytest.mark.parametrize("n", [4_301, 10_000, 100_000])
def test_long_digit_runs_never_raise_in_any_reward(n):
    digits = "3" * n
    right = f"<think>\nx\n</think>\n<answer>\n{digits}\n</answer>"
    for style in ("think", "reasoning"):
        for name, fn in REWARDS.items():
            for gold in (digits, "18", 18, 19.99):
                (value,) = fn([right], answer=[gold], tag_style=[style])
                assert math.isfinite(value), name
    assert rewards.correctness([right], answer=[digits]) == [1.0]
    assert rewards.correctness([right.replace(digits, "1e" + "9" * n)], answer=["1"]) == [0.0]


DIGITS = st.integers(0, 5_000).flatmap(lambda n: st.sampled_from("0159").map(lambda d: d * n))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.one_of(st.sampled_from([*TAGS, "e", "/", ".", "-", "/0", "e99"]), DIGITS), max_size=25),
    gold=st.one_of(DIGITS, st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
    prefill=st.sampled_from([None, "<think>\n", "<reasoning>\n"]),
)
def test_fuzz_digit_runs_never_break_a_reward(pieces, gold, prefill):
    text = "".join(pieces)
    for style in ("think", "reasoning"):
        for name, fn in REWARDS.items():
            (value,) = fn([text], answer=[gold], tag_style=[style], prefill=[prefill])
            assert value is None or (math.isfinite(value) and 0.0 <= value <= 1.0), (name, value)
