"""The one answer checker: numbers, the strict rule, the lenient rule, and real GSM8K data."""

import json
from fractions import Fraction

import pytest

from minir1 import answers
from minir1.answers import check, extract, format_number, lenient_extract, numbers_in, parse_gold
from minir1.data import load_problems

SHARED = "example_model_solutions.jsonl"


def wrap(answer: str, style: str = "think") -> str:
    return f"<{style}>\nsome steps\n</{style}>\n<answer>{answer}</answer>"


# Every form in the foundation issue's point 4 counts as its number.
@pytest.mark.parametrize(
    "answer, gold",
    [
        ("18", 18),
        ("18.00", 18),
        ("18.", 18),
        ("$18", 18),
        ("18 dollars", 18),
        ("1,250", 1250),
        ("$1,250.00", 1250),
        ("50%", 50),
        ("\u22123", -3),
        ("-3", -3),
        ("\n  18  \n", 18),
        ("\t18\n", 18),
        ("-$5", -5),
        ("$-5", -5),
        ("The answer is 18.", 18),
        ("2.5", Fraction(5, 2)),
        ("3/4", Fraction(3, 4)),
        ("\\frac{3}{4}", Fraction(3, 4)),
        ("\\boxed{18}", 18),
        ("1{,}250", 1250),
        ("18 or 18", 18),
        ("1,000,000", 1000000),
    ],
)
def test_equivalent_forms_are_correct(answer, gold):
    verdict = check(wrap(answer), gold)
    assert verdict.correct, (answer, verdict)
    assert verdict.extracted == format_number(Fraction(gold))


@pytest.mark.parametrize(
    "completion, reason",
    [
        ("The answer is 18.", "no <answer> block"),
        ("<think>so 18</think> 18", "no <answer> block"),
        ("<answer>18</answer><answer>18</answer>", "more than one <answer> block"),
        ("<answer>18", "unclosed <answer> block"),
        ("18</answer>", "unclosed <answer> block"),
        ("</answer>18<answer>", "</answer> comes before <answer>"),
        ("<answer>   </answer>", "empty <answer> block"),
        ("<answer></answer>", "empty <answer> block"),
        ("<answer>eighteen</answer>", "no number in the answer block"),
        ("<answer>18 or 19</answer>", "answer block holds more than one number"),
        ("<answer>18,19</answer>", "answer block holds more than one number"),
        ("<answer>18\n19</answer>", "answer block holds more than one number"),
        ("<answer>between 17 and 19</answer>", "answer block holds more than one number"),
        ("<think>maybe <answer>18</answer></think>", "answer block is inside the reasoning"),
        ("<reasoning>x <answer>18</answer>", "answer block is inside the reasoning"),
    ],
)
def test_policy_cases_are_wrong_with_a_reason(completion, reason):
    verdict = check(completion, 18)
    assert not verdict.correct
    assert verdict.reason == reason


def test_wrong_number_is_reported_with_its_value():
    verdict = check(wrap("19"), "#### 18")
    assert verdict == answers.Verdict(False, "19", "wrong answer")


def test_answer_after_closed_reasoning_counts():
    assert check("<think>I guess 17</think>\n<answer>18</answer>", 18).correct


def test_numbers_in_handles_signs_commas_and_words():
    assert numbers_in("5-3") == [5, 3]
    assert numbers_in("x2 and 3rd") == [3]
    assert numbers_in("12,3456") == [12, 3456]
    assert numbers_in("1,250.50 and .5") == [Fraction(250100, 200), Fraction(1, 2)]


@pytest.mark.parametrize(
    "text, value",
    [("#### 18", 18), ("steps\n#### 1,080", 1080), ("#### -5", -5), ("72", 72), (72, 72), (2.5, Fraction(5, 2))],
)
def test_parse_gold(text, value):
    assert parse_gold(text) == value


@pytest.mark.parametrize("text", ["no number", "#### ", "", True, float("nan")])
def test_parse_gold_rejects(text):
    assert parse_gold(text) is None


def test_check_refuses_a_gold_without_a_number():
    with pytest.raises(ValueError, match="holds no number"):
        check("<answer>1</answer>", "none")


def test_format_number_is_canonical():
    assert [format_number(v) for v in (18, Fraction(-3), Fraction(5, 2), Fraction(1, 3))] == ["18", "-3", "2.5", "1/3"]


def test_every_gsm8k_gold_parses():
    """All 8,792 gold answers of the bundled GSM8K parse to an integer."""
    train, test = load_problems("gsm8k:train"), load_problems("gsm8k:test")
    assert (len(train), len(test)) == (7473, 1319)
    for p in train + test:
        assert isinstance(p.gold, int), p
    negatives = [p for p in train + test if p.gold < 0]
    with_commas = [p for p in train + test if "," in p.solution.rsplit("####", 1)[1]]
    assert len(negatives) == 5 and len(with_commas) == 93


def test_lenient_extraction_agrees_with_released_labels(shared_data):
    """The lenient rule (last number) agrees with every released correctness label."""
    test = load_problems("gsm8k:test")
    rows = [json.loads(line) for line in (shared_data / SHARED).open()]
    agree = total = 0
    for row, problem in zip(rows, test, strict=True):
        assert row["question"] == problem.question
        for _key, sol in row.items():
            if isinstance(sol, dict):
                total += 1
                agree += (lenient_extract(sol["solution"]) == problem.gold) == sol["is_correct"]
    assert total == 5276
    assert agree == 5276


def test_extract_is_cached_and_pure():
    text = wrap("18")
    assert extract(text) == extract(text) == (18, None)
