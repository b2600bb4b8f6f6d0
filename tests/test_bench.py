"""Every benchmark script runs (in its quick mode) and records its figures with machine, command and date.

Figures go to a temporary folder: a smoke run never overwrites a measurement. Nothing
here asserts a time.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench"


@pytest.mark.parametrize(
    "script, args, name",
    [
        ("score_throughput.py", ["--n", "500", "--repeats", "1"], "score_throughput"),
        ("generation_throughput.py", ["--quick"], "generation_throughput_quick"),
        ("rollout_throughput.py", ["--quick"], "rollout_throughput-quick"),
        ("grpo_step.py", ["--quick"], "grpo_step-quick"),
        ("processes.py", ["--quick"], "processes-quick"),
        ("recipe_step.py", ["--quick"], "recipe_step-tiny-cpu-quick"),
    ],
)
def test_bench_script_records_figures(tmp_path, script, args, name):
    env = {**os.environ, "MINIR1_BENCH_RESULTS": str(tmp_path)}
    r = subprocess.run([sys.executable, str(BENCH / script), *args], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["figures"] and result["date"] and result["command"].endswith(" ".join(args))
    assert result["machine"]["cores"] >= 1 and "torch" in result["machine"]
    if name == "grpo_step-quick":
        setups = result["figures"]["setups"]
        assert set(setups) == {"seeds", "minir1"} and all("seconds_per_step" in s for s in setups.values())
