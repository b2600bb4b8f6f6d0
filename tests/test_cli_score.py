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
        "main(['score', '-']); assert 'torch' not in sys.modules and 'transformers' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('torch', 'transformers')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = run(["--help"])
    assert r.returncode == 0 and "score" in r.stdout
