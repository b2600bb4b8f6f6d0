"""``minir1 doctor``: what stands between this machine and a training run, each problem with its fix.

Only what ``pip check`` and ``trl env`` do not say: which of pip's conflicts block minir1, vLLM against TRL's
``vllm`` extra, the torch build against the GPU and its driver, native bf16, flash-attn, and the Hub (one HTTPS
request, skipped with ``--no_network`` or ``HF_HUB_OFFLINE=1``). An error makes the exit status 1.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from .errors import first_line
from .machine import PACKAGES, version
from .models import BASE_MODEL, gpu_has_bf16, hub_offline, is_cached

TORCH_BUILDS = "https://pytorch.org/get-started/locally"
LEVELS = ("error", "warning", "note")  # blocks training, limits what runs, worth knowing


@dataclass(frozen=True)
class Finding:
    """One problem and its fix; ``level`` is one of :data:`LEVELS`."""

    level: str
    problem: str
    fix: str | None = None


@dataclass(frozen=True)
class GPU:
    """One visible GPU. ``bf16``: native bf16 (compute capability 8.0+); older GPUs only emulate it."""

    name: str
    memory_gib: float
    capability: tuple[int, int]
    bf16: bool


@dataclass
class EnvironmentReport:
    """What :func:`check_environment` found; ``str(report)`` is the text ``minir1 doctor`` prints."""

    torch: str | None  # version and build, e.g. "2.13.0+cpu (CPU-only build)"
    gpus: list[GPU]
    hub: str
    versions: str  # what pip check said
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing blocks training (warnings and notes may remain)."""
        return not any(f.level == "error" for f in self.findings)

    def __str__(self) -> str:
        rows = [("minir1", version("minir1") or "not installed (pip install -e .)"),
                ("torch", self.torch or "does not import"), ("versions", self.versions)]
        rows += [(f"GPU {i}", f"{g.name}, {g.memory_gib:.1f} GiB, compute capability {g.capability[0]}."
                              f"{g.capability[1]}, bf16 {'yes' if g.bf16 else 'emulated only'}")
                 for i, g in enumerate(self.gpus)] or [("GPU", "none visible")]
        cached = "in the local cache" if is_cached(BASE_MODEL) else "not in the local cache (downloaded on first use)"
        rows += [("Hub", self.hub), (BASE_MODEL, cached)]
        width = max(len(k) for k, _ in rows)
        lines = ["minir1 doctor"] + [f"  {k:<{width}}  {val}" for k, val in rows]
        for f in sorted(self.findings, key=lambda f: LEVELS.index(f.level)):
            lines += ["", f"{f.level}: {f.problem}"] + ([f"  fix: {f.fix}"] if f.fix else [])
        errors, warnings = (sum(f.level == level for f in self.findings) for level in LEVELS[:2])
        if errors:
            verdict = f"NOT READY: {errors} problem{'s' * (errors > 1)} block{'s' * (errors == 1)} training (see above)"
        else:
            verdict = "ready to train" + (f" ({warnings} warning{'s' * (warnings > 1)})" if warnings else "")
        return "\n".join(lines + ["", verdict])


def _requires(dist: str) -> list:
    """The requirements in ``dist``'s metadata, parsed (none when it is not installed)."""
    from packaging.requirements import Requirement

    try:
        return [Requirement(r) for r in md.requires(dist) or []]
    except md.PackageNotFoundError:
        return []


def pip_check() -> list[Finding]:
    """``pip check``'s conflicts in this environment: an error when minir1 or a package it installs with is
    involved, else a warning (shared environments often carry unrelated conflicts); a note when pip cannot run."""
    try:
        r = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [Finding("note", f"pip check could not run ({e}): installed versions were not checked")]
    if r.returncode == 0:
        return []
    if "No module named pip" in r.stderr:
        return [Finding("note", "pip is not installed in this environment: installed versions were not checked",
                        "python -m ensurepip, or your tool's own check (e.g. uv pip check)")]
    lines = [line.strip() for line in r.stdout.splitlines() if line.strip() and not line.startswith("No broken")]
    if not lines:
        said = (r.stderr.strip().splitlines() or ["no output"])[-1]
        return [Finding("note", f"pip check failed ({said}): installed versions were not checked")]
    # minir1 and what it installs with: a conflict among them blocks training
    requires = [r.name for r in _requires("minir1") if "extra ==" not in str(r.marker)]
    needed = {n.lower().replace("_", "-") for n in (*PACKAGES, *requires)}

    def names(line: str) -> set[str]:  # "X 1.0 has requirement Y>=2, ..." / "X 1.0 requires Y, which ..."
        words = line.split()
        return {re.match(r"[\w.\-]*", w).group().lower().replace("_", "-").rstrip(".") for w in words[:1] + words[3:5]}

    return [Finding("error" if names(line) & needed else "warning", line, "install the version it names (pip install "
                    "\"NAME<range>\"), or reinstall minir1 in a fresh environment") for line in lines]


def vllm_findings(version: str | None, wanted: str | None) -> list[Finding]:
    """The installed vLLM ``version`` against the range of TRL's ``vllm`` extra, which ``pip check`` does not read.

    >>> vllm_findings("0.32.0", ">=0.22.0,<=0.31.0")[0].level
    'warning'
    """
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:  # a local build tag ("0.24.0+cu129") is the same release
        if not version or not wanted or SpecifierSet(wanted).contains(Version(version), prereleases=True):
            return []
    except InvalidVersion:
        return []
    return [Finding("warning", f"vllm {version} is outside TRL's supported range (trl[vllm] needs vllm{wanted}): "
                               "training with --use_vllm may fail", f'pip install "vllm{wanted}", or leave use_vllm '
                               "off (training and evaluation then generate with transformers)")]


def trl_vllm_range() -> str | None:
    """The vLLM specifier of TRL's ``vllm`` extra, from TRL's metadata (None when TRL or the extra is absent)."""
    for req in _requires("trl"):
        if req.name.lower() == "vllm" and req.marker is not None and req.marker.evaluate({"extra": "vllm"}):
            return str(req.specifier) or None
    return None


def torch_facts() -> tuple[str | None, list[GPU], list[Finding]]:
    """``(torch's version and build, visible GPUs, what they mean for training or that torch does not import)``."""
    try:
        import torch
    except Exception as e:  # missing, or a broken build (OSError or ImportError with an undefined symbol)
        return None, [], [Finding("error", f"torch does not import ({first_line(e)})", "install or reinstall it: "
                                  f"pip install --force-reinstall torch (builds: {TORCH_BUILDS})")]
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            with torch.cuda.device(i):
                bf16 = gpu_has_bf16()
            gpus.append(GPU(props.name, props.total_memory / 2**30, (props.major, props.minor), bf16))
    cuda = torch.version.cuda
    build = f"CUDA {cuda} build" if cuda else "GPU build" if gpus else "CPU-only build"  # ROCm: no CUDA version
    findings = hardware_findings(cuda, gpus, shutil.which("nvidia-smi") is not None, version("flash-attn"))
    return f"{version('torch')} ({build})", gpus, findings


def hardware_findings(torch_cuda: str | None, gpus: list[GPU], nvidia_smi: bool,
                      flash_attn: str | None) -> list[Finding]:
    """What the torch build, the visible GPUs and flash-attn mean for training.

    >>> hardware_findings("12.8", [], nvidia_smi=True, flash_attn=None)[0].problem[:48]
    'torch is a CUDA 12.8 build but no GPU is visible'
    """
    findings = []
    if torch_cuda and not gpus:
        findings.append(Finding(
            "warning", f"torch is a CUDA {torch_cuda} build but no GPU is visible",
            (f"check the NVIDIA driver with nvidia-smi: it must support CUDA {torch_cuda} (or install a torch build "
             f"for the CUDA version it shows, {TORCH_BUILDS}); check CUDA_VISIBLE_DEVICES") if nvidia_smi else
            "install the NVIDIA driver (nvidia-smi is missing), or use the CPU for the tiny model only"))
    elif not torch_cuda and nvidia_smi:
        findings.append(Finding(
            "warning", "torch is a CPU-only build but this machine has an NVIDIA GPU (nvidia-smi is present)",
            "reinstall torch's CUDA build for your driver: pip install --force-reinstall torch --index-url "
            f"https://download.pytorch.org/whl/cuXXX (pick cuXXX at {TORCH_BUILDS})"))
    elif not gpus:
        findings.append(Finding(
            "warning", "no GPU: training runs on the CPU (the tiny model in minutes, a 0.5B model in hours)",
            "use a CUDA GPU for the mini-r1 and grpo-demo recipes; on a CPU: minir1 demo, --config tiny, or "
            "--config mini-r1-cpu"))
    findings += [Finding(
        "warning", f"GPU {i} ({gpu.name}, compute capability {gpu.capability[0]}.{gpu.capability[1]}) has no "
        "native bf16: torch only emulates it, slowly",
        "train and evaluate with --dtype float16 (half the memory) or --dtype float32, not bfloat16")
        for i, gpu in enumerate(gpus) if not gpu.bf16]
    if flash_attn and not gpus:
        findings.append(Finding("note", f"flash-attn {flash_attn} is installed but runs only on a CUDA GPU: unused "
                                        "here (attention uses PyTorch's sdpa)"))
    elif flash_attn and flash_attn.split(".")[0].isdigit() and int(flash_attn.split(".")[0]) >= 2:
        findings += [Finding(
            "warning", f"flash-attn {flash_attn} needs an Ampere or newer GPU (compute capability 8.0+); "
                       f"GPU {i} ({gpu.name}) is {gpu.capability[0]}.{gpu.capability[1]}",
            "do not set --attn_implementation flash_attention_2 here; the default (sdpa) works")
            for i, gpu in enumerate(gpus) if gpu.capability < (8, 0)]
    return findings


def hub_status(timeout: float = 3.0) -> tuple[bool, str]:
    """``(reachable, one line)`` from one request to the Hub's API for :data:`BASE_MODEL` (``HF_ENDPOINT`` honoured);
    any HTTP answer, even 401 or 404, means reachable."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    start = time.perf_counter()
    try:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/api/models/{BASE_MODEL}", method="HEAD"),
                               timeout=timeout).close()
    except urllib.error.HTTPError:
        pass
    except (OSError, ValueError) as e:  # URLError, timeouts and refused connections are OSErrors
        return False, f"unreachable at {endpoint} ({getattr(e, 'reason', None) or e})"
    return True, f"reachable at {endpoint} ({time.perf_counter() - start:.2f} s)"


def check_environment(network: bool = True) -> EnvironmentReport:
    """Every finding about this environment. ``network=False`` skips the Hub request (its only network use)."""
    conflicts = pip_check()
    found = [f for f in conflicts if f.level != "note"]
    versions = "pip check: " + (f"{len(found)} conflicts (below)" if found else "not run" if conflicts else
                                "no conflicts") + "; every version: trl env"
    findings = conflicts + vllm_findings(version("vllm"), trl_vllm_range())
    torch, gpus, about_torch = torch_facts()
    findings += about_torch
    if not network:
        hub = "not checked (--no_network)"
    elif hub_offline():
        hub = "not checked: HF_HUB_OFFLINE (offline mode)"
        findings.append(Finding("note", "HF_HUB_OFFLINE: Hub models and data sets load from the local cache only",
                                "unset HF_HUB_OFFLINE to download"))
    else:
        reachable, hub = hub_status()
        if not reachable:
            findings.append(Finding(
                "warning", f"the Hugging Face Hub is {hub}: Hub models and data sets cannot be downloaded",
                "check your connection or proxy (HTTPS_PROXY); or work offline with HF_HUB_OFFLINE=1, cached "
                "models, local folders and the bundled GSM8K (the tiny model needs no network)"))
    return EnvironmentReport(torch, gpus, hub, versions, findings)


def cli_doctor(args) -> int:
    """``minir1 doctor [--no_network]``: print the report; exit 1 when something blocks training."""
    report = check_environment(network=not args.no_network)
    print(report)
    return 0 if report.ok else 1
