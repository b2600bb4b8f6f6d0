"""`minir1 demo`: a quick smoke run always; the full run (slow) proves that GRPO learns."""

import json

import pytest

from minir1.cli import main


def test_quick_demo_writes_everything(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--output_dir", str(out)]) == 0
    for name in ("report.md", "rewards.png", "results.json", "warmstart/config.json", "eval-before/summary.json",
                 "eval-after/summary.json", "grpo/metrics.jsonl", "grpo/final/model.safetensors"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"before", "after", "mcnemar", "reward_curve", "seconds"}
    assert "McNemar" in (out / "report.md").read_text()
    # an existing demo folder is kept unless asked
    assert main(["demo", "--quick", "--output_dir", str(out)]) == 2


@pytest.mark.slow
def test_demo_grpo_learns(tmp_path):
    """The full demo: the reward curve rises and held-out strict accuracy improves, clearly."""
    out = tmp_path / "demo"
    assert main(["demo", "--output_dir", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    before, after, curve = r["before"], r["after"], r["reward_curve"]
    assert curve["last"]["total"] > curve["first"]["total"] + 2, curve  # points of 23
    assert curve["last"]["correctness"] > curve["first"]["correctness"], curve
    assert after["accuracy"] >= before["accuracy"] + 0.10, (before, after)
    assert after["ci_low"] > before["ci_high"], "95% intervals do not overlap"
    assert r["mcnemar"]["p_exact"] < 1e-3, r["mcnemar"]
    assert r["fixed"] > r["broken"]
