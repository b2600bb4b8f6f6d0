"""`minir1 compare`: paired comparison of two evaluation folders (built with fake generators: no model needed)."""

import json
import subprocess
import sys

import pytest

from minir1.cli import main
from minir1.compare import compare_evals
from minir1.errors import UserError
from minir1.evaluate import EvalSettings, run_eval
from minir1.generation import Generation
from minir1.prompts import format_completion
from minir1.stats import mcnemar


def write_problems(path, golds):
    path.write_text("".join(json.dumps({"id": f"p{i}", "question": f"Question {i}?", "answer": g}) + "\n"
                            for i, g in enumerate(golds)))
    return str(path)


def evaluate(out, data, answers: list[str], model="fake"):
    """An evaluation folder in which problem i was answered ``answers[i]``."""

    def fake(prompts, *, max_new_tokens, batch_size, num_samples, temperature, seed, on_batch, stop):
        gens = [[Generation(format_completion("...", answers[int(p[-1]["content"].split()[1][:-1])]), 5, False)]
                for p in prompts]
        on_batch(list(range(len(prompts))), gens)
        return gens

    run_eval(EvalSettings(model=model, data=data), out, generator=fake, progress=False)
    return out


GOLDS = [str(i) for i in range(10)]


@pytest.fixture
def pair(tmp_path):
    data = write_problems(tmp_path / "p.jsonl", GOLDS)
    # A right on 0-3; B right on 2-9: B alone fixed six problems, A alone kept two
    a = evaluate(tmp_path / "a", data, [g if i < 4 else "-1" for i, g in enumerate(GOLDS)], model="base")
    b = evaluate(tmp_path / "b", data, [g if i >= 2 else "-1" for i, g in enumerate(GOLDS)], model="tuned")
    return a, b


def test_compare_counts_flips_and_tests_them(pair):
    a, b = pair
    r = compare_evals(a, b, examples=2)
    assert r["n"] == 10 and r["a"]["accuracy"] == 0.4 and r["b"]["accuracy"] == 0.8
    assert r["difference"] == pytest.approx(0.4)
    assert (r["a_only"], r["b_only"], r["both_right"], r["both_wrong"]) == (2, 6, 2, 0)
    assert r["mcnemar"]["p_exact"] == pytest.approx(mcnemar(2, 6).p_exact)  # 2 * 37 / 256
    assert r["mcnemar"]["p_exact"] == pytest.approx(2 * 37 / 256)
    assert [e["id"] for e in r["examples"]["b_only"]] == ["p4", "p5"]
    assert [e["id"] for e in r["examples"]["a_only"]] == ["p0", "p1"]
    assert r["examples"]["a_only"][0] == {"id": "p0", "question": "Question 0?", "gold": "0", "answer_a": "0",
                                          "answer_b": "-1"}
    assert r["settings_that_differ"] == ["model"]


def test_compare_prints_a_report_through_the_cli(pair, capsys):
    a, b = pair
    assert main(["compare", str(a), str(b), "--examples", "1"]) == 0
    out = capsys.readouterr().out
    assert "accuracy A     40.0%" in out and "accuracy B     80.0%" in out
    assert "+40.0 points" in out and "6 right only in B, 2 right only in A" in out
    assert "McNemar      exact p = 0.2891" in out and "not significant" in out
    assert "[right only in B] p4: Question 4?" in out and "[right only in A] p0" in out


def test_compare_refuses_different_problem_sets(tmp_path, capsys):
    a = evaluate(tmp_path / "a", write_problems(tmp_path / "p.jsonl", GOLDS), GOLDS)
    b = evaluate(tmp_path / "b", write_problems(tmp_path / "q.jsonl", GOLDS[:8]), GOLDS)
    assert main(["compare", str(a), str(b)]) == 2
    assert "evaluated different problems (2 only in the first, 0 only in the second" in capsys.readouterr().err
    c = evaluate(tmp_path / "c", write_problems(tmp_path / "r.jsonl", GOLDS[:9] + ["99"]), GOLDS)
    with pytest.raises(UserError, match="different gold answers for problem p9"):
        compare_evals(a, c)


def test_compare_refuses_unfinished_and_missing_evaluations(pair, tmp_path):
    a, b = pair
    (b / "summary.json").unlink()
    with pytest.raises(UserError, match="is not finished"):
        compare_evals(a, b)
    with pytest.raises(UserError, match="not an evaluation folder"):
        compare_evals(a, tmp_path / "nowhere")


def test_compare_does_not_import_torch(pair):
    a, b = pair
    code = f"import sys; from minir1.cli import main; main(['compare', {str(a)!r}, {str(b)!r}]); " \
           "assert 'torch' not in sys.modules, 'torch imported'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_an_empty_evaluation_is_a_one_line_error(pair, capsys):
    a, _ = pair
    (a / "samples.jsonl").write_text("")  # finished (summary.json present) with no problems in it
    assert main(["compare", str(a), str(a)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "holds no evaluated problems" in err, err


def test_a_folder_compared_with_itself_gives_a_warning(pair, capsys):
    a, b = pair
    assert main(["compare", str(a), str(a / ".." / a.name)]) == 0  # the same folder, spelled another way
    captured = capsys.readouterr()
    assert "warning" in captured.err and "are the same folder" in captured.err
    assert "+0.0 points" in captured.out
    assert main(["compare", str(a), str(b)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_lenient_compares_the_last_number_of_greedy_evaluations(tmp_path, capsys):
    data = write_problems(tmp_path / "p.jsonl", GOLDS)

    def plain(prompts, *, max_new_tokens, batch_size, num_samples, temperature, seed, on_batch, stop):
        # no tags: the answer as the last number, so lenient right and strict wrong
        gens = [[Generation(f"It is {p[-1]['content'].split()[1][:-1]}.", 5, False)] for p in prompts]
        on_batch(list(range(len(prompts))), gens)
        return gens

    a = evaluate(tmp_path / "a", data, ["-1"] * 10)
    run_eval(EvalSettings(model="fake", data=data), tmp_path / "b", generator=plain, progress=False)
    strict = compare_evals(a, tmp_path / "b")
    assert (strict["a_only"], strict["b_only"], strict["both_wrong"]) == (0, 0, 10)
    lenient = compare_evals(a, tmp_path / "b", verdict="lenient_correct")
    assert (lenient["a_only"], lenient["b_only"], lenient["b"]["accuracy"]) == (0, 10, 1.0)
    assert main(["compare", str(a), str(tmp_path / "b"), "--lenient"]) == 0
    out = capsys.readouterr().out
    assert "lenient verdicts" in out and "10 right only in B, 0 right only in A" in out
    assert "gold 0; A answered -1; B answered 0" in out  # the answers the lenient rule judged


def test_lenient_refuses_sampled_evaluations(tmp_path, capsys):
    data = write_problems(tmp_path / "p.jsonl", GOLDS[:2])

    def sampled(prompts, *, max_new_tokens, batch_size, num_samples, temperature, seed, on_batch, stop):
        gens = [[Generation(format_completion("...", "1"), 5, False)] * num_samples for _ in prompts]
        on_batch(list(range(len(prompts))), gens)
        return gens

    out = tmp_path / "k"
    run_eval(EvalSettings(model="fake", data=data, samples=2), out, generator=sampled, progress=False)
    assert main(["compare", str(out), str(out), "--lenient"]) == 2
    assert "lenient ones are kept only for greedy evaluations" in capsys.readouterr().err
    assert main(["compare", str(out), str(out)]) == 0  # strict: the majority vote
