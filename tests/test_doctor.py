"""`minir1 doctor`: the command on this machine, pip check and the vLLM extra, and each hardware rule on fake hardware."""

import importlib.metadata as md
import subprocess
import sys

import pytest

from minir1.cli import main
from minir1.doctor import (
    GPU,
    EnvironmentReport,
    Finding,
    check_environment,
    hardware_findings,
    hub_status,
    pip_check,
    trl_vllm_range,
    vllm_findings,
)


def test_the_command_exits_0_on_this_machine():
    r = subprocess.run([sys.executable, "-m", "minir1", "doctor", "--no_network"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = dict(line.split(None, 1) for line in r.stdout.splitlines()[1:6])
    assert rows["torch"].startswith(md.version("torch")) and rows["versions"] == "pip check: no conflicts; every version: trl env"
    assert "GPU" in r.stdout and "not checked (--no_network)" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("ready to train")


def test_a_blocking_problem_exits_1(monkeypatch, capsys):
    blocked = EnvironmentReport("2.13.0", [], "not checked", "pip check: 1 conflicts (below)",
                                [Finding("error", "trl 1.16.0 has requirement transformers>=4.56.2", "pip ...")])
    monkeypatch.setattr("minir1.doctor.check_environment", lambda network: blocked)
    assert main(["doctor", "--no_network"]) == 1
    assert "NOT READY: 1 problem blocks training" in capsys.readouterr().out


def test_pip_checks_conflicts_become_errors(monkeypatch):
    assert pip_check() == []  # this environment is consistent
    said = "trl 1.16.0 has requirement transformers>=4.56.2, but you have transformers 4.50.0.\n"
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, said, ""))
    [f] = pip_check()
    assert f.level == "error" and f.problem == said.strip() and "fresh environment" in f.fix
    other = "foo 1.0 has requirement bar>=2, but you have bar 1.0."  # not minir1's: a warning, not a blocker
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, other, ""))
    assert [f.level for f in pip_check()] == ["warning"]
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 2, "", "KeyError: 'x'"))
    [f] = pip_check()
    assert f.level == "note" and "pip check failed (KeyError: 'x')" in f.problem
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "No module named pip"))
    [f] = pip_check()
    assert f.level == "note" and "not checked" in f.problem


def test_vllm_is_checked_against_trls_extra_which_pip_check_ignores():
    assert trl_vllm_range() is not None  # read from TRL's installed metadata
    wanted = ">=0.22.0,<=0.31.0"
    [f] = vllm_findings("0.32.0", wanted)
    assert f.level == "warning" and f"vllm{wanted}" in f.problem and "use_vllm" in f.fix
    assert vllm_findings("0.24.0+cu129", wanted) == [] and vllm_findings(None, wanted) == []


def gpu(name="NVIDIA H100", capability=(9, 0), bf16=True):
    return GPU(name, 79.2, capability, bf16)


def test_a_healthy_gpu_raises_nothing():
    assert hardware_findings("12.8", [gpu()], nvidia_smi=True, flash_attn="2.8.3") == []


def test_a_cuda_torch_that_sees_no_gpu_points_at_the_driver():
    [f] = hardware_findings("12.8", [], nvidia_smi=True, flash_attn=None)
    assert f.level == "warning" and "CUDA 12.8 build but no GPU is visible" in f.problem
    assert "nvidia-smi" in f.fix and "CUDA_VISIBLE_DEVICES" in f.fix
    [f] = hardware_findings("12.8", [], nvidia_smi=False, flash_attn=None)
    assert "install the NVIDIA driver" in f.fix


def test_a_cpu_only_torch_on_an_nvidia_machine_says_reinstall_the_cuda_build():
    [f] = hardware_findings(None, [], nvidia_smi=True, flash_attn=None)
    assert "CPU-only build" in f.problem and "download.pytorch.org/whl/cu" in f.fix


def test_no_gpu_at_all_is_a_warning_not_an_error():
    [f] = hardware_findings(None, [], nvidia_smi=False, flash_attn=None)
    assert f.level == "warning" and "no GPU" in f.problem and "mini-r1-cpu" in f.fix


def test_a_gpu_without_bf16_says_fp16_or_fp32():
    [f] = hardware_findings("12.1", [gpu("Tesla T4", (7, 5), bf16=False)], nvidia_smi=True, flash_attn=None)
    assert f.level == "warning" and "no native bf16" in f.problem and "--dtype float16" in f.fix


def test_flash_attn_only_matters_on_a_recent_gpu():
    [f] = hardware_findings(None, [], nvidia_smi=False, flash_attn="2.8.3")[1:]
    assert f.level == "note" and "only on a CUDA GPU" in f.problem
    [f] = hardware_findings("12.1", [gpu("Tesla V100", (7, 0))], nvidia_smi=True, flash_attn="2.8.3")
    assert f.level == "warning" and "Ampere or newer" in f.problem and "sdpa" in f.fix


def test_an_unreachable_hub_is_a_warning(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: refused at once, locally
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    reachable, line = hub_status(timeout=1)
    assert not reachable and line.startswith("unreachable at http://127.0.0.1:9")
    report = check_environment(network=True)
    assert report.ok and any(f.level == "warning" and "Hub is unreachable" in f.problem for f in report.findings)


@pytest.mark.parametrize("network", [False, True])
def test_offline_runs_touch_no_network(monkeypatch, network):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("minir1.doctor.hub_status", lambda *a, **k: pytest.fail("the Hub was contacted"))
    report = check_environment(network=network)
    assert report.hub.startswith("not checked")
