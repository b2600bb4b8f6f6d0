"""Two processes on a CPU (torchrun, gloo): both take part, one writes, resume works; the shipped launch configs."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import psutil
import pytest

from minir1.jsonl import read_jsonl

ROOT = Path(__file__).parents[1]
LAUNCH_TIMEOUT = 300  # seconds a launch may take (a two-process tiny run takes about 15 s alone)
SPREAD = ["--rewards", "format_rubric", "correctness", "spread_rewards:length_bonus",
          "--reward_weights", "13", "10", "1"]


def launch(nproc: int, run: Path, *args: str) -> subprocess.CompletedProcess:
    # PYTHONFAULTHANDLER: a worker sent SIGABRT writes every thread's stack to stderr before it dies
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    # --standalone: a local rendezvous on a port torchrun picks itself (no port races between tests)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), "-m",
           "minir1", "train"]
    # Output to files, not pipes (a stuck worker would hold a pipe open), and on a hang every process of the
    # launch is killed (torchrun starts its workers in sessions of their own; left running, they would slow every
    # later test), after each worker has written where it stood.
    hung = False
    with open(f"{run}.out", "w+") as out, open(f"{run}.err", "w+") as err:
        p = subprocess.Popen([*cmd, *args, "--output_dir", str(run), "--plot", "false", *SPREAD], env=env,
                             stdout=out, stderr=err)
        try:
            p.wait(timeout=LAUNCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            hung = True
            agent = psutil.Process(p.pid)
            workers = agent.children(recursive=True)
            for group in (workers, [agent]):  # the workers first, then torchrun itself
                for proc in group:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        proc.send_signal(signal.SIGABRT)
                psutil.wait_procs(group, timeout=10)
            for proc in [*workers, agent]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            p.wait()
        out.seek(0), err.seek(0)
        r = subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())
    if hung and "run folder:" in r.stdout:
        # The run finished (its main process reported) and then a process did not exit: an intermittent hang at exit,
        # seen twice in fresh-clone CI runs and not reproduced in 36 launches alone. What the run wrote is still
        # checked by the caller; where each process stood is shown as a warning, not lost.
        stacks = "\n".join(line for line in r.stderr.splitlines() if not line.startswith("Extension modules:"))
        warnings.warn(f"torchrun did not exit within {LAUNCH_TIMEOUT} s after the run finished; stacks:\n{stacks[-6000:]}",
                      stacklevel=2)
        return r
    assert r.returncode == 0, f"exit {r.returncode}; stdout: {r.stdout[-1500:]}\nstderr: {r.stderr[-3000:]}"
    return r


@pytest.mark.slow
def test_two_processes_take_part_and_one_writes(tmp_path, tiny_model):
    common = ["--config", "tiny", "--model", str(tiny_model), "--sample_every", "1"]
    launch(1, tmp_path / "one", *common)
    two = launch(2, tmp_path / "two", *common)
    assert "process 0 of 2 taking part" in two.stderr and "process 1 of 2 taking part" in two.stderr
    assert two.stdout.count("run folder:") == 1, "only the main process reports"
    run = tmp_path / "two"
    m1, m2 = read_jsonl(tmp_path / "one" / "metrics.jsonl"), read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in m2] == [1, 2, 3, 4], "one line per step, not one per process"
    # Tokens are counted over all processes: two processes see twice the prompts per step.
    assert 1.8 < m2[0]["num_tokens"] / m1[0]["num_tokens"] < 2.2
    assert json.loads((run / "launches.jsonl").read_text())["processes"] == 2
    samples = read_jsonl(run / "samples.jsonl")
    assert sorted({s["step"] for s in samples}) == [1, 2, 3, 4] and len(samples) == 16
    for name in ("config.yaml", "checkpoint-2", "checkpoint-4", "final/adapter_config.json", "summary.json"):
        assert (run / name).exists(), name


@pytest.mark.slow
def test_two_process_run_resumes(tmp_path, tiny_model):
    run = tmp_path / "run"
    launch(2, run, "--config", "tiny", "--model", str(tiny_model), "--max_steps", "2")
    launch(2, run, "--resume", "--max_steps", "4")
    assert [r["step"] for r in read_jsonl(run / "metrics.jsonl")] == [1, 2, 3, 4]
    assert len(read_jsonl(run / "launches.jsonl")) == 2


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "launch").glob("*.yaml")))
def test_launch_configs_are_valid_accelerate_configs(name):
    from accelerate.commands.config.config_args import ClusterConfig

    path = ROOT / "launch" / f"{name}.yaml"
    config = ClusterConfig.from_yaml_file(str(path))
    assert config.num_processes >= 1 and config.mixed_precision == "bf16"
    command = path.read_text().splitlines()[0]
    assert command.startswith(f"# accelerate launch --config_file launch/{name}.yaml") or name == "multi_node"
