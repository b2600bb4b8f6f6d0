"""`minir1 doctor`: the command on this machine, and each incompatibility rule on fake versions and hardware."""

import importlib.metadata as md
import subprocess
import sys

import pytest

from minir1.cli import main
from minir1.doctor import (
    GPU,
    EnvironmentReport,
    Finding,
    Rule,
    check_environment,
    hardware_findings,
    hub_status,
    read_rules,
    version_findings,
)

# What minir1 0.1.0 and TRL 1.16 declare (pyproject.toml and TRL's metadata), and vLLM 0.10.1.1's torch pin.
RULES = [
    Rule("minir1", "python", ">=3.11"), Rule("minir1", "torch", ">=2.6"), Rule("minir1", "transformers", "<6,>=5.23"),
    Rule("minir1", "trl", "<2,>=1.16"), Rule("minir1", "peft", "<1,>=0.21"), Rule("minir1", "datasets", "<6,>=5.2"),
    Rule("minir1", "accelerate", "<2,>=1.15"), Rule("minir1", "vllm", "<=0.31.0,>=0.22.0"),
    Rule("trl", "python", ">=3.11"), Rule("trl", "transformers", ">=4.56.2"), Rule("trl", "accelerate", ">=1.10.1"),
    Rule("trl", "vllm", "<=0.31.0,>=0.22.0"),
]
GOOD = {"python": "3.11.7", "torch": "2.13.0+cpu", "transformers": "5.23.0", "trl": "1.16.0", "peft": "0.21.2",
        "accelerate": "1.15.0", "datasets": "5.2.0", "vllm": None, "flash-attn": None}


def findings(**versions):
    return version_findings({**GOOD, **versions}, RULES)


def test_the_command_reports_versions_and_exits_0_on_this_machine():
    r = subprocess.run([sys.executable, "-m", "minir1", "doctor", "--no_network"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        assert f"{name} " in r.stdout and md.version(name) in r.stdout
    assert "vllm" in r.stdout and "flash-attn" in r.stdout and "GPU" in r.stdout
    assert "Hub" in r.stdout and "not checked (--no_network)" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("ready to train")


def test_a_blocking_problem_exits_1(monkeypatch, capsys):
    blocked = EnvironmentReport({"python": "3.11.7"}, None, [], {}, "not checked", None,
                                [Finding("error", "transformers 4.50.0 is outside the supported range", "pip ...")])
    monkeypatch.setattr("minir1.doctor.check_environment", lambda network: blocked)
    assert main(["doctor", "--no_network"]) == 1
    assert "NOT READY: 1 problem blocks training" in capsys.readouterr().out


def test_the_rules_come_from_the_installed_metadata():
    rules = read_rules()
    for package in ("python", "torch", "transformers", "trl", "peft", "datasets", "accelerate", "vllm"):
        assert any(r.requirer == "minir1" and r.package == package for r in rules), package
    assert any(r.requirer == "trl" and r.package == "transformers" for r in rules)
    assert any(r.requirer == "trl" and r.package == "vllm" for r in rules), "TRL's vllm extra"


def test_supported_versions_raise_nothing():
    assert findings() == []
    # local build tags are the same release: torch 2.13.0+cu128, vLLM 0.31.0+cu129
    assert findings(torch="2.13.0+cu128", vllm="0.31.0+cu129") == []


def test_transformers_too_old_for_trl_and_minir1_blocks_training():
    [f] = findings(transformers="4.50.0")
    assert f.level == "error"
    assert "trl 1.16.0 needs transformers>=4.56.2" in f.problem and "minir1 needs transformers<6,>=5.23" in f.problem
    assert f.fix == 'pip install "transformers>=5.23,<6"'


def test_a_required_package_missing_blocks_training():
    [f] = findings(peft=None)
    assert (f.level, f.problem, f.fix) == ("error", "peft is not installed", 'pip install "peft>=0.21,<1"')


def test_python_too_old_blocks_training():
    [f] = findings(python="3.10.12")
    assert f.level == "error" and "Python >=3.11" in f.fix


def test_vllm_outside_trls_range_is_a_warning():
    [f] = findings(vllm="0.32.1")
    assert f.level == "warning"
    assert "trl 1.16.0 needs vllm<=0.31.0,>=0.22.0" in f.problem
    assert f.fix == 'pip install "vllm>=0.22.0,<=0.31.0"'
    assert findings(vllm=None) == [], "vLLM is optional"


def test_vllm_built_for_another_torch_is_a_warning_that_names_trls_range():
    rules = [*RULES, Rule("vllm", "torch", "==2.7.1")]
    [f] = version_findings({**GOOD, "vllm": "0.25.0"}, rules)
    assert f.level == "warning" and "vllm 0.25.0 needs torch==2.7.1" in f.problem
    assert "vllm>=0.22.0,<=0.31.0" in f.fix and "without vllm" in f.fix


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
    assert f.level == "warning" and "tiny model" in f.problem


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
