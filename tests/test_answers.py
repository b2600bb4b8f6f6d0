"""The one answer checker: numbers, the strict rule, the lenient rule, and real GSM8K data."""

import json
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --- the hardened checker: any length, exact, never an exception -----------------------------

LONG = [10_000, 100_000]


@pytest.mark.parametrize("n", LONG)
def test_long_digit_runs_in_answer_and_gold_are_compared_exactly(n):
    digits = "7" * n
    verdict = check(wrap(digits), digits)
    assert verdict == answers.Verdict(True, digits, None)  # the extracted string is the exact number
    one_off = digits[:-1] + "8"
    assert check(wrap(one_off), digits) == answers.Verdict(False, one_off, "wrong answer")
    assert check(wrap(digits), f"solution\n#### {digits}").correct
    assert not check(wrap(digits), 18).correct and not check(wrap("18"), digits).correct
    assert lenient_extract(f"so {digits}") == parse_gold(digits)


@pytest.mark.parametrize("n", LONG)
def test_long_runs_keep_their_zeros_commas_and_decimals_exact(n):
    big = "1" + "0" * n
    assert check(wrap("0" * n + "18"), 18).correct  # leading zeros
    assert check(wrap("18." + "0" * n), 18).correct  # trailing decimal zeros
    assert check(wrap(big), f"1e{n}").correct
    assert check(wrap(f"{big[:1]},{','.join(['000'] * (n // 3))}"), f"1e{n // 3 * 3}").correct
    tiny = "0." + "0" * (n - 1) + "1"
    assert check(wrap(tiny), f"1e-{n}").correct and not check(wrap(tiny), 0).correct
    # exact, in scientific notation beyond SMALL_DIGITS zeros (the plain form of 1e-1000000 is a megabyte)
    assert check(wrap(tiny), f"1e-{n}").extracted == f"1e-{n}"
    assert check(wrap("0.00125"), "1.25e-3").extracted == "0.00125"
    near = "18." + "0" * n + "1"  # a Decimal context of 28 digits would round this to 18
    assert check(wrap(near), 18) == answers.Verdict(False, near, "wrong answer")


def test_no_rounding_anywhere():
    assert not check(wrap("1.00000000000000000000000000001"), 1).correct
    assert check(wrap("0.1"), "1/10").correct and not check(wrap("0.1"), 0.1000000000000001).correct
    assert check(wrap("0.333"), "1/3").reason == "wrong answer"
    assert format_number(parse_gold("123456789012345678901234567890.5")) == "123456789012345678901234567890.5"


@pytest.mark.parametrize(
    "answer, gold",
    [
        ("1e308", 10**308),
        ("1E308", "1" + "0" * 308),
        ("2.5e-3", Fraction(1, 400)),
        ("6.02e+23", 602 * 10**21),
        ("1e3", "1,000"),
        ("-4.5e1", -45),
        ("1e1000000", "1e1000000"),
        ("1.5e+1000000", "15e999999"),
    ],
)
def test_scientific_notation_is_read_exactly(answer, gold):
    verdict = check(wrap(answer), gold)
    assert verdict.correct, verdict
    assert parse_gold(verdict.extracted) == parse_gold(gold)  # the extracted string reads back as the number
    assert not check(wrap(answer), 1).correct  # 1e308 is not 1


def test_an_exponent_too_large_to_compare_is_wrong_with_a_reason():
    for text in ("1e" + "9" * 10, "1e-" + "9" * 100_000):
        assert check(wrap(text), 1) == answers.Verdict(False, None, answers.EXPONENT_TOO_LARGE.reason)
        assert parse_gold(text) is None and lenient_extract(text) is None


@pytest.mark.parametrize("text", ["5/0", "5 / 0", "5/000", "\\frac{5}{0}"])
def test_zero_denominators_are_undefined(text):
    assert check(wrap(text), 5) == answers.Verdict(False, None, "division by zero in the answer block")
    assert parse_gold(text) is None and parse_gold(f"#### {text}") is None
    assert lenient_extract(f"it is {text}") is None
    assert numbers_in(f"{text} and 7") == [7]


def test_fractions_too_long_to_compare_are_wrong_with_a_reason():
    text = "1/" + "3" * 101
    assert check(wrap(text), 0).reason == answers.FRACTION_TOO_LONG.reason
    assert check(wrap("1/" + "3" * 100), Fraction(1, int("3" * 100))).correct


@pytest.mark.parametrize(
    "gold, written", [(19.99, "19.99"), (0.1, "0.1"), (2.5, "2.50"), (1e16, "10000000000000000"), (1e-05, "0.00001"),
                      (-3.0, "-3"), (0.30000000000000004, "0.30000000000000004")]
)
def test_a_float_gold_means_its_shortest_decimal_form(gold, written):
    assert check(wrap(written), gold).correct
    assert parse_gold(gold) == parse_gold(repr(gold))
    assert format_number(parse_gold(gold)) == format_number(parse_gold(written))


def test_float_golds_read_from_json_are_right(tmp_path):
    from minir1.rewards import correctness

    path = tmp_path / "d.json"
    path.write_text('[{"question": "q1", "answer": 19.99}, {"question": "q2", "answer": 0.1}]')
    problems = load_problems(str(path))
    assert [p.answer for p in problems] == ["19.99", "0.1"]
    completions = [wrap("19.99"), wrap("$0.10")]
    assert correctness(completions, answer=[p.gold for p in problems]) == [1.0, 1.0]
    assert correctness(completions, answer=[p.answer for p in problems]) == [1.0, 1.0]
    assert correctness(completions, answer=[json.loads(path.read_text())[i]["answer"] for i in (0, 1)]) == [1.0, 1.0]


@pytest.mark.parametrize(
    "value",
    [0, 7, -1250, Fraction(1, 3), Fraction(-5, 8), 10**1200, -(10**5000) - 7, Fraction(1, 2**4000),
     Fraction(3, 10**1500)],
    ids=["0", "7", "-1250", "1/3", "-5/8", "10**1200", "-(10**5000)-7", "1/2**4000", "3/10**1500"],
)
def test_format_number_reads_back_as_the_same_value(value):
    settled = parse_gold(value)
    text = format_number(settled)
    assert parse_gold(text) == settled
    assert check(wrap(text), value).correct


def test_nothing_that_looks_like_a_number_raises():
    texts = ["9" * 100_000, "1," * 100_000, "." + "5" * 100_000, "1e" + "9" * 100_000, "5/" + "0" * 100_000,
             "1" * 100_000 + "/" + "7" * 100_000, "$-" + "0" * 100_000, "\\frac{" + "1" * 50_000 + "}{0}"]
    for text in texts:
        for completion in (text, wrap(text), f"<answer>{text} or {text}</answer>"):
            verdict = check(completion, 18)
            assert not verdict.correct
            lenient_extract(completion)
            numbers_in(completion)
        assert parse_gold(text) is None or check(wrap(text), text).correct


# Fuzzing: any text, with digit runs of any length, never raises; every extracted answer reads back.
DIGIT_RUN = st.integers(0, 6_000).flatmap(lambda n: st.sampled_from("0123456789").map(lambda d: d * n))
PIECES = st.one_of(st.sampled_from(["<answer>", "</answer>", "<think>", "</think>", ".", ",", "/", "e", "E", "-",
                                    "+", "$", " ", "\n", "\\frac{", "}{", "}", "%", "\u2212"]), DIGIT_RUN,
                   st.text(max_size=5))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(PIECES, max_size=12).map("".join), gold=st.one_of(st.integers(), st.floats(), DIGIT_RUN,
                                                                        st.lists(PIECES, max_size=6).map("".join)))
def test_fuzz_the_checker_never_raises(text, gold):
    value, reason = extract(text)
    assert (value is None) != (reason is None)
    if value is not None:
        assert parse_gold(format_number(value)) == value
        assert check(text, value).correct
    lenient_extract(text)
    gold_value = parse_gold(gold)
    if gold_value is not None:
        verdict = check(text, gold_value)
        assert verdict.correct == (value is not None and value == gold_value)


@settings(max_examples=300, deadline=None)
@given(
    whole=st.text("0123456789", max_size=1_500), decimals=st.text("0123456789", max_size=1_500),
    exponent=st.integers(-1_500, 1_500), shift=st.integers(-50, 50), negative=st.booleans(),
)
def test_fuzz_equal_values_written_differently_are_equal(whole, decimals, exponent, shift, negative):
    """Against an exact oracle (Python's Fraction on the same digits): equal iff the values are equal."""
    import sys

    if not (whole or decimals):
        whole = "0"
    text = f"{'-' if negative else ''}{whole or '0'}.{decimals}e{exponent}"
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # the oracle only: int() of up to 3,000 digits
    try:
        oracle = Fraction(int(whole + decimals or "0"), 1) * Fraction(10) ** (exponent - len(decimals))
        oracle = -oracle if negative else oracle
        # The same value with the point moved by `shift` and the exponent moved back, plus zeros at both ends.
        digits = "000" + whole + decimals + "000"
        point = len("000" + whole) + shift
        if point < 0:
            digits, point = "0" * -point + digits, 0
        if point > len(digits):
            digits += "0" * (point - len(digits))
        rewritten = f"{'-' if negative else ''}{digits[:point] or '0'}.{digits[point:]}e{exponent - shift}"
        assert check(wrap(rewritten), text).correct, (text, rewritten)
        bumped = parse_gold(f"{oracle.numerator + 1}/{oracle.denominator}") if oracle.denominator < 10**100 else None
        if bumped is not None:
            assert not check(wrap(text), bumped).correct
        value = parse_gold(text)
        if isinstance(value, (int, Fraction)):
            assert value == oracle
    finally:
        sys.set_int_max_str_digits(old)


@pytest.mark.timeout(60)  # a guard against super-linear blow-ups, not a speed assertion: see bench/
def test_a_million_digits_are_scored():
    from minir1.rewards import REWARDS

    text = wrap("9" * 1_000_000)
    for fn in REWARDS.values():
        fn([text], answer=["9" * 1_000_000])
    assert check(text, "9" * 1_000_000).correct
