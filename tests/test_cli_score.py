"""`minir1 score` end to end, through the real console command."""

import json
import subprocess
import sys

DONE = "<think>\n9 * 2 = 18\n</think>\n<answer>\n18\n</answer>"


def run(args, stdin=""):
    return subprocess.run([sys.executable, "-m", "minir1", *args], input=stdin, capture_output=True, text=True)


def test_score_prints_one_verdict_per_line_in_order():
    lines = [
        {"completion": DONE, "answer": "Janet sells...\n#### 18"},
        {"completion": [{"role": "assistant", "content": DONE.replace("18", "19")}], "answer": 18},
        {"completion": "The answer is 18", "answer": "18"},
    ]
    r = run(["score", "-"], "".join(json.dumps(x) + "\n" for x in lines))
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["correct"] for o in out] == [True, False, False]
    assert [o["extracted"] for o in out] == ["18", "19", None]
    assert out[0] == {"correct": True, "extracted": "18", "rewards": {"format_rubric": 13.0, "correctness": 10.0},
                      "total": 23.0}
    assert out[1]["total"] == 13.0


def test_score_grpo_demo_scheme(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"completion": "<reasoning>\nx\n</reasoning>\n<answer>\n7\n</answer>\n", "answer": 7}))
    r = run(["score", str(path), "--scheme", "grpo-demo"])
    out = json.loads(r.stdout)
    assert out["total"] == 4.0 and set(out["rewards"]) == {"xml_count", "soft_format", "strict_format",
                                                           "int_answer", "correctness"}


def test_score_with_a_recipes_rewards(tmp_path):
    """--config scores as training with that recipe would: mini-r1-cpu pays the last number anywhere."""
    lines = "".join(json.dumps(x) + "\n" for x in ({"completion": DONE, "answer": 18},
                                                  {"completion": "9 * 2 = 18, so 18.", "answer": 18}))
    out = [json.loads(x) for x in run(["score", "-", "--config", "mini-r1-cpu"], lines).stdout.splitlines()]
    assert [o["rewards"] for o in out] == [{"format_rubric": 13.0, "lenient_correctness": 10.0},
                                           {"format_rubric": 0.0, "lenient_correctness": 10.0}]
    assert [o["correct"] for o in out] == [True, False]  # "correct" stays the strict verdict
    recipe = tmp_path / "r.yaml"
    recipe.write_text("scheme: grpo-demo\nrewards: [correctness, int_answer]\nreward_weights: [3, 1]\n")
    (o,) = [json.loads(x) for x in run(["score", "-", "--config", str(recipe)],
                                       json.dumps({"completion": DONE.replace("think", "reasoning"), "answer": 18})
                                       ).stdout.splitlines()]
    assert o["rewards"] == {"correctness": 3.0, "int_answer": 1.0} and o["total"] == 4.0
    r = run(["score", "-", "--config", "mini-r1-cpu", "--scheme", "grpo-demo"], lines)
    assert r.returncode == 2 and "not allowed with argument" in r.stderr
    for text, error in (("reward_weights: [1, x]\n", "reward_weights must be numbers, got [1, 'x']"),
                        ("rewards: [nope]\n", "unknown reward 'nope'"),
                        ("rewards: []\n", "rewards is empty"),  # as minir1 train says
                        ("rewards: 5\n", "rewards must be a list of reward names, got 5"),
                        ("rewards: [correctness]\nreward_weights: [1, 2]\n", "got 2 reward weights for 1 rewards")):
        recipe.write_text(text)
        r = run(["score", "-", "--config", str(recipe)], lines)
        assert r.returncode != 0 and error in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_bad_line_is_an_error_naming_it_after_earlier_lines_are_written():
    good = json.dumps({"completion": DONE, "answer": 18})
    r = run(["score", "-"], f"{good}\n{good}\n{{not json\n{good}\n")
    assert r.returncode == 2
    assert len(r.stdout.splitlines()) == 2
    assert r.stderr.strip().startswith("minir1: error: line 3: not valid JSON")
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_line_without_a_gold_number_is_an_error():
    r = run(["score", "-"], json.dumps({"completion": DONE, "answer": "unknown"}) + "\n")
    assert r.returncode == 2 and "line 1: answer 'unknown' holds no number" in r.stderr


def test_a_missing_file_is_an_error():
    r = run(["score", "/no/such/file.jsonl"])
    assert r.returncode == 2 and "cannot read /no/such/file.jsonl" in r.stderr


def test_help_and_score_do_not_import_torch():
    code = (
        "import sys, io; from minir1.cli import main; sys.stdin = io.StringIO('');"
        "main(['score', '-']); main(['score', '-', '--config', 'mini-r1-cpu']);"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('torch', 'transformers')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = run(["--help"])
    assert r.returncode == 0 and "score" in r.stdout


def run_bytes(args, stdin: bytes):
    return subprocess.run([sys.executable, "-m", "minir1", *args], input=stdin, capture_output=True)


GOOD = (json.dumps({"completion": DONE, "answer": 18}) + "\n").encode()


def check_300_then_error(r, line_no: int, message: str):
    assert r.returncode == 2
    out = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(out) == 300 and all(o["correct"] and o["total"] == 23.0 for o in out)
    err = r.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"minir1: error: line {line_no}: {message}"), err


def test_300_good_lines_are_written_before_a_bad_one(tmp_path):
    r = run_bytes(["score", "-"], GOOD * 300 + b"{not json\n" + GOOD)
    check_300_then_error(r, 301, "not valid JSON")
    path = tmp_path / "in.jsonl"
    path.write_bytes(GOOD * 300 + b'{"completion": 1, "answer": 2}\n')
    check_300_then_error(run_bytes(["score", str(path)], b""), 301, "completion must be a string")


def test_300_good_lines_are_written_before_undecodable_bytes(tmp_path):
    bad = b'{"completion": "\xff\xfe", "answer": 18}\n'
    check_300_then_error(run_bytes(["score", "-"], GOOD * 300 + bad + GOOD), 301, "not valid UTF-8")
    path = tmp_path / "in.jsonl"
    path.write_bytes(GOOD * 150 + b"\n" + GOOD * 150 + b"\x80\n")
    check_300_then_error(run_bytes(["score", str(path)], b""), 302, "not valid UTF-8")


def test_long_numbers_and_float_golds_in_lines():
    digits = "9" * 100_000
    lines = [
        {"completion": DONE.replace("18", digits), "answer": int(digits[:4000])},  # a JSON int of 4,000 digits
        {"completion": DONE.replace("18", digits), "answer": digits},
        {"completion": DONE.replace("18", "19.99"), "answer": 19.99},
        {"completion": DONE.replace("18", "1e308"), "answer": 1},
    ]
    text = "".join(json.dumps(x) + "\n" for x in lines)
    text = text.replace(f'"answer": "{digits}"', f'"answer": {digits}')  # a JSON int of 100,000 digits
    r = run(["score", "-"], text)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["correct"] for o in out] == [False, True, True, False]
    assert out[1]["extracted"] == digits and out[2]["extracted"] == "19.99"


def test_prefill_field_and_flag_judge_prefill_plus_completion():
    rest = DONE.removeprefix("<think>\n")
    lines = [
        {"completion": rest, "answer": 18, "prefill": "<think>\n"},
        {"completion": rest, "answer": 18},  # takes --prefill
        {"completion": DONE, "answer": 18, "prefill": None},  # its own: none
    ]
    r = run(["score", "-", "--prefill", "<think>\n"], "".join(json.dumps(x) + "\n" for x in lines))
    assert r.returncode == 0, r.stderr
    joined = run(["score", "-"], json.dumps({"completion": DONE, "answer": 18}) + "\n")
    assert r.stdout.splitlines() == joined.stdout.splitlines() * 3
    r = run(["score", "-"], json.dumps(lines[1]) + "\n")  # no prefill: the format is broken
    assert json.loads(r.stdout)["rewards"]["format_rubric"] < 13


def test_score_lines_refuses_an_unknown_style():
    import io

    import pytest

    from minir1.errors import UserError
    from minir1.scoring import score_lines

    with pytest.raises(UserError, match="unknown tag style 'nope'"):
        score_lines([GOOD], io.StringIO(), style="nope")
