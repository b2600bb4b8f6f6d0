"""`minir1 demo`: a quick smoke run always; the full run (slow) proves that GRPO learns both phases."""

import json
import logging
from pathlib import Path

import pytest

from minir1.cli import main


def _numbers(results: dict) -> dict:
    """Everything a run measured except its timing, machine and command line."""
    return {k: v for k, v in results.items() if k not in ("seconds", "machine", "command")}


@pytest.mark.slow
def test_quick_demo_writes_everything(tmp_path, capfd, caplog):
    out = tmp_path / "demo"
    with caplog.at_level(logging.INFO, logger="minir1"):
        assert main(["demo", "--quick", "--output_dir", str(out)]) == 0
    for name in ("report.md", "rewards.png", "results.json", "demo.json", "warmstart/config.json",
                 "eval-before/summary.json", "eval-before-sampled/summary.json", "eval-after/summary.json",
                 "grpo/metrics.jsonl", "grpo/eval_samples.jsonl", "grpo/final/model.safetensors"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"before", "after", "mcnemar", "lenient_mcnemar", "pass_at_k_before", "reward_curve",
                            "emergence", "seconds", "machine", "settings"}
    assert {"date", "cpu", "cores", "torch_threads", "versions"} <= set(results["machine"])
    assert {"torch", "transformers", "trl"} <= set(results["machine"]["versions"])
    pk = results["pass_at_k_before"]
    assert set(pk["strict"]) == set(pk["lenient"]) == {"pass@1", "pass@2"}
    # the example follows one held-out problem through every evaluation during training (steps 0, 1, 2)
    assert [h["step"] for h in results["emergence"]["steps"]] == [0, 1, 2]
    evals = results["reward_curve"]["held_out_during_training"]
    assert [e["step"] for e in evals] == [0, 1, 2] and all({"strict", "lenient", "format"} <= set(e) for e in evals)
    report = (out / "report.md").read_text()
    for text in ("McNemar", "pass@2", "lenient", "One held-out problem through training", "vary"):
        assert text in report, text

    # not a terminal: no progress-bar redraws, one closing line per training phase
    err = capfd.readouterr().err
    assert "\r" not in err
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("warm start: ") and " steps in " in m for m in messages) == 1, messages
    assert sum(m.startswith("GRPO: 2 steps in ") for m in messages) == 1, messages

    # an existing demo folder is kept unless asked
    assert main(["demo", "--quick", "--output_dir", str(out)]) == 2


def test_demo_never_replaces_a_folder_it_did_not_write(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main(["demo", "--quick", "--overwrite", "--output_dir", str(mine)]) == 2
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(mine.iterdir())) == 1


@pytest.mark.slow
def test_quick_demo_is_reproducible(tmp_path):
    """Two runs with the same seed on one machine give the same figures (only timings differ)."""
    runs = []
    for name in ("a", "b"):
        assert main(["demo", "--quick", "--output_dir", str(tmp_path / name)]) == 0
        runs.append(json.loads((tmp_path / name / "results.json").read_text()))
    assert _numbers(runs[0]) == _numbers(runs[1])


def test_warm_start_plain_answers_show_their_working_or_give_the_number_at_once():
    from minir1.demo import warmstart_rows
    from minir1.synthetic import make_problems

    problems = make_problems(40, seed=1)

    def texts(**kw):
        return [r["completion"][0]["content"] for r in warmstart_rows(problems, 0.5, seed=0, **kw)]

    worked, direct = texts(), texts(plain_working=False)
    tagged = [t for t in worked if t.startswith("<think>")]
    assert len(tagged) == 15  # of 40: the rows the seed tags, the same as before the option existed
    for p, w, d in zip(problems, worked, direct, strict=True):
        steps = p.solution.split("\n")[0]  # "a op b = c"
        if w in tagged:  # the same problems are tagged either way, with the working in the reasoning block
            assert w == d == f"<think>\n{steps}\n</think>\n<answer>\n{p.answer}\n</answer>"
        else:
            assert (w, d) == (f"{steps}\nThe answer is {p.answer}.", f"The answer is {p.answer}.")


def test_plain_working_reaches_the_warm_start(tmp_path, monkeypatch):
    """DemoSettings.plain_working is what the demo's supervised pass trains on (stopped before training)."""
    import minir1.warmstart
    from minir1.demo import DemoSettings, run_demo

    class Stop(Exception):
        pass

    seen = {}

    def capture(model, rows, output_dir, **kwargs):
        seen["rows"] = rows
        raise Stop

    monkeypatch.setattr(minir1.warmstart, "warm_start", capture)
    settings = DemoSettings.quick()
    settings.plain_working = False
    with pytest.raises(Stop):
        run_demo(tmp_path / "demo", settings=settings)
    plain = [r["completion"][0]["content"] for r in seen["rows"]
             if not r["completion"][0]["content"].startswith("<think>")]
    assert plain and all(t.startswith("The answer is ") and " = " not in t for t in plain)


@pytest.mark.slow
def test_demo_grpo_learns(tmp_path):
    """The full demo: the format first, then correctness; a clear held-out strict gain, the arithmetic kept.

    Issue 12 asks for the lenient accuracy (the arithmetic alone) to rise by 10 points too; no setting
    tried reached that within the demo's minutes (BENCHMARKS.md, "Demo tuning trials"), so the lenient
    accuracy is asserted as not lost.
    """
    out = tmp_path / "demo"
    assert main(["demo", "--output_dir", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    before, after, curve = r["before"], r["after"], r["reward_curve"]
    assert before["n"] >= 300
    # strict accuracy: the answer in the tag format
    assert after["accuracy"] >= before["accuracy"] + 0.10, (before, after)
    assert r["mcnemar"]["p_exact"] < 0.01, r["mcnemar"]
    assert r["fixed"] > r["broken"]
    # lenient accuracy (the last number, format or not): the arithmetic survives the format phase
    assert after["lenient_accuracy"] >= before["lenient_accuracy"], (before, after)
    assert r["lenient_fixed"] >= r["lenient_broken"], r["lenient_mcnemar"]
    # headroom: sampling found right answers that greedy decoding missed
    assert r["pass_at_k_before"]["lenient"][f"pass@{r['pass_at_k_before']['k']}"] > before["lenient_accuracy"]
    # the two phases: format near full marks by the second quarter; correctness still rising after it
    q = curve["quarters"]
    assert q[1]["format"] >= 0.9 * 13, q
    assert q[3]["correctness"] > q[0]["correctness"], q  # points of 10
    assert curve["last"]["total"] > curve["first"]["total"] + 1, curve  # points of 23


def test_the_readme_demo_figures_are_the_committed_results_file():
    """README's demo table and sentences are copied from docs/demo-results.json, never typed."""
    root = Path(__file__).parents[1]
    readme = " ".join((root / "README.md").read_text().split())
    r = json.loads((root / "docs" / "demo-results.json").read_text())

    def pct(x):
        return f"{100 * x:.1f}%"

    for name, b in (("before GRPO", r["before"]), (f"after {r['reward_curve']['steps']} GRPO steps", r["after"])):
        row = (f"| {name} | {pct(b['accuracy'])} ({pct(b['ci_low'])} - {pct(b['ci_high'])}) | "
               f"{pct(b['lenient_accuracy'])} ({pct(b['lenient_ci_low'])} - {pct(b['lenient_ci_high'])}) | "
               f"{pct(b['format_rate'])} |")
        assert row in readme, row
    assert f"{r['fixed']} problems went from wrong to right and {r['broken']} from right to wrong" in readme
    assert f"moved {r['lenient_fixed']} against {r['lenient_broken']}" in readme
    pass8 = r["pass_at_k_before"]["lenient"][f"pass@{r['pass_at_k_before']['k']}"]
    assert f"the right number on {100 * pass8:.0f}% of problems" in readme
    assert f"{r['seconds']['total']:.0f} s;" in readme
    assert (root / "docs" / "demo-rewards.png").is_file()
