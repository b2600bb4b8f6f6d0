"""``minir1 doctor``: library versions, GPU, known incompatibilities and Hub access, in one report.

Design choices, stated up front:

* **The version rules are the packages' own requirements, read at run time.**
  minir1's pins (``transformers>=5.23,<6``, ``trl>=1.16,<2``, ...), TRL's
  (``transformers>=4.56.2``, Python ``>=3.11``, and the vLLM range of its
  ``vllm`` extra, ``>=0.22.0,<=0.31.0``) and vLLM's exact torch pin all come
  from the installed packages' metadata (:mod:`importlib.metadata`), compared
  with :mod:`packaging`. A table copied into this file would drift from what pip
  installed; the metadata cannot. Nothing is imported to read its version:
  importing vLLM takes seconds and fails exactly when its versions are wrong.
* **Errors block training, warnings do not.** An *error* is a required package
  (torch, transformers, TRL, peft, accelerate, datasets, tokenizers,
  huggingface-hub) that is missing or outside a range that minir1 or another
  installed package declares: ``minir1 doctor`` then exits with status 1. A
  *warning* limits what runs (no GPU, vLLM or flash-attn unusable, the Hub out of
  reach); a *note* is worth knowing. Every problem comes with its fix.
* **Hardware rules are few and concrete:** a CUDA build of torch that sees no GPU
  (drivers), a CPU-only torch on a machine with ``nvidia-smi`` (reinstall the
  CUDA build), a GPU without native bf16 (fp16 or fp32), flash-attn where it
  cannot run.
* **The Hub check is one HTTPS request with a 3-second timeout**, skipped with
  ``network=False`` (``--no_network``) or when ``HF_HUB_OFFLINE=1`` says the user
  works offline.

    >>> report = check_environment(network=False)      # doctest: +SKIP
    >>> report.ok, [f.problem for f in report.findings if f.level == "error"]   # doctest: +SKIP
    (True, [])
"""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from .machine import versions

# Packages the report shows, in this order. All but OPTIONAL are needed to train.
SHOWN = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers", "huggingface-hub", "vllm",
         "flash-attn")
OPTIONAL = {"vllm": "fast generation on a CUDA GPU: pip install 'minir1[vllm]'",
            "flash-attn": "FlashAttention-2 kernels on an Ampere or newer GPU"}
TRACKERS = ("tensorboard", "wandb", "trackio")
BASE_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"  # the bundled recipes' model
HUB_TIMEOUT = 3.0
TORCH_BUILDS = "https://pytorch.org/get-started/locally"


@dataclass(frozen=True)
class Finding:
    """One problem and its fix. ``level``: ``error`` (blocks training), ``warning`` (limits it) or ``note``."""

    level: str
    problem: str
    fix: str | None = None


class Rule(NamedTuple):
    """A requirement one package declares on another, e.g. ``Rule("trl", "transformers", ">=4.56.2")``."""

    requirer: str
    package: str  # a name from SHOWN, or "python"
    specifier: str


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

    versions: dict[str, str | None]
    torch_cuda: str | None
    gpus: list[GPU]
    trackers: dict[str, str | None]
    hub: str
    base_model_cached: bool | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing blocks training (warnings and notes may remain)."""
        return not any(f.level == "error" for f in self.findings)

    def __str__(self) -> str:
        return format_report(self)


# --- versions -------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def installed_versions() -> dict[str, str | None]:
    """Python's, minir1's and each :data:`SHOWN` package's version (None when not installed), from metadata only."""
    return {"python": platform.python_version(), **versions(("minir1", *SHOWN), missing=True)}


def read_rules() -> list[Rule]:
    """The requirements that minir1 and every installed package of :data:`SHOWN` declare on those packages and
    on Python: their base requirements, plus their ``vllm`` extra (what ``pip install 'trl[vllm]'`` enforces)."""
    from packaging.requirements import Requirement

    rules = []
    for requirer in ("minir1", *SHOWN):
        try:
            dist = md.distribution(requirer)
        except md.PackageNotFoundError:
            continue
        if dist.metadata.get("Requires-Python"):
            rules.append(Rule(requirer, "python", dist.metadata["Requires-Python"].replace(" ", "")))
        for line in dist.requires or []:
            req = Requirement(line)
            package = _canonical(req.name)
            if package not in SHOWN or not str(req.specifier):
                continue
            if req.marker is None or req.marker.evaluate({"extra": ""}) or req.marker.evaluate({"extra": "vllm"}):
                rules.append(Rule(requirer, package, str(req.specifier)))
    return rules


def _combined(specifiers: list[str]) -> str:
    """One range that satisfies every specifier given: the exact pin if there is one, else the highest lower
    bound and the lowest upper bound. ``[">=5.23,<6", ">=4.56.2"]`` -> ``">=5.23,<6"``."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    items = [s for spec in specifiers for s in SpecifierSet(spec)]
    pins = [s for s in items if s.operator in ("==", "===")]
    if pins:
        return str(pins[0])
    lower = max((s for s in items if s.operator in (">=", ">")), key=lambda s: Version(s.version), default=None)
    upper = min((s for s in items if s.operator in ("<", "<=")), key=lambda s: Version(s.version), default=None)
    others = sorted({str(s) for s in items if s.operator in ("!=", "~=")})
    return ",".join([str(s) for s in (lower, upper) if s is not None] + others)


def _label(package: str, versions: dict[str, str | None]) -> str:
    return f"{package} {versions[package]}" if versions.get(package) else package


def _satisfied(version: str, specifier: str) -> bool:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        # A local build tag ("2.13.0+cpu", "0.24.0+cu129") is the same release for every range but an exact local pin.
        return SpecifierSet(specifier).contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True  # a version packaging cannot read (a source build); nothing to say about it


def version_findings(versions: dict[str, str | None], rules: list[Rule]) -> list[Finding]:
    """Missing required packages and versions outside what minir1 or another installed package requires.

    >>> version_findings({"python": "3.11.7", "transformers": "4.50.0", "trl": "1.16.0"},
    ...                  [Rule("trl", "transformers", ">=4.56.2")])[0].fix
    'pip install "transformers>=4.56.2"'
    """
    findings = []
    for package in ("python", *SHOWN):
        if package not in versions:
            continue
        version = versions[package]
        wanted = [r for r in rules if r.package == package]
        if version is None:
            if package not in OPTIONAL:
                spec = _combined([r.specifier for r in wanted])
                findings.append(Finding("error", f"{package} is not installed", f'pip install "{package}{spec}"'))
            continue
        unmet = [r for r in wanted if not _satisfied(version, r.specifier)]
        if not unmet:
            continue
        required = package not in OPTIONAL and any(r.requirer not in OPTIONAL for r in unmet)
        who = "; ".join(f"{_label(r.requirer, versions)} needs {package}{r.specifier}" for r in unmet)
        problem = f"{package} {version} is outside the supported range: {who}"
        if package == "python":
            fix = f"create a virtual environment with Python {_combined([r.specifier for r in wanted])}"
        elif required or package in OPTIONAL:
            spec = _combined([r.specifier for r in wanted if package in OPTIONAL or r.requirer not in OPTIONAL])
            fix = f'pip install "{package}{spec}"'
        else:  # an optional package (vLLM) built for another version of a required one (torch)
            requirer = unmet[0].requirer
            supported = _combined([r.specifier for r in rules if r.package == requirer and r.requirer not in OPTIONAL])
            fix = (f"install the {requirer} release built for {package} {version}"
                   + (f" within {requirer}{supported}" if supported else "")
                   + f", or reinstall them together in a fresh environment; without {requirer}, training and "
                   "evaluation generate with transformers")
        findings.append(Finding("error" if required else "warning", problem, fix))
    return findings


# --- hardware -------------------------------------------------------------------------------


def torch_facts() -> tuple[str | None, list[GPU], Finding | None]:
    """``(CUDA version torch was built for, visible GPUs, a finding when torch does not import)``."""
    try:
        import torch
    except Exception as e:  # a broken build raises OSError or ImportError with an undefined symbol
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        return None, [], Finding("error", f"torch is installed but does not import ({first})",
                                 f"reinstall it: pip install --force-reinstall torch (builds: {TORCH_BUILDS})")
    from .models import gpu_has_bf16

    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            with torch.cuda.device(i):
                bf16 = gpu_has_bf16()
            gpus.append(GPU(props.name, props.total_memory / 2**30, (props.major, props.minor), bf16))
    return torch.version.cuda, gpus, None


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
            "warning", "no GPU: training runs on the CPU, which is practical for the tiny model only",
            "use a CUDA GPU for the mini-r1 and grpo-demo recipes; on a CPU, run minir1 demo or --config tiny"))
    for i, gpu in enumerate(gpus):
        if not gpu.bf16:
            findings.append(Finding(
                "warning", f"GPU {i} ({gpu.name}, compute capability {gpu.capability[0]}.{gpu.capability[1]}) has no "
                "native bf16: torch only emulates it, slowly",
                "train and evaluate with --dtype float16 (half the memory) or --dtype float32, not bfloat16"))
    if flash_attn and not gpus:
        findings.append(Finding("note", f"flash-attn {flash_attn} is installed but runs only on a CUDA GPU: unused "
                                        "here (attention uses PyTorch's sdpa)"))
    elif flash_attn and _major(flash_attn) >= 2:
        for i, gpu in enumerate(gpus):
            if gpu.capability < (8, 0):
                findings.append(Finding(
                    "warning", f"flash-attn {flash_attn} needs an Ampere or newer GPU (compute capability 8.0+); "
                               f"GPU {i} ({gpu.name}) is {gpu.capability[0]}.{gpu.capability[1]}",
                    "do not set --attn_implementation flash_attention_2 here; the default (sdpa) works"))
    return findings


def _major(version: str) -> int:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version).major
    except InvalidVersion:
        return 0


# --- the Hub --------------------------------------------------------------------------------


def hub_status(timeout: float = HUB_TIMEOUT) -> tuple[bool, str]:
    """``(reachable, one line)`` from one request to the Hub's API for :data:`BASE_MODEL` (``HF_ENDPOINT`` honoured).

    Any HTTP answer, even 401 or 404, means the Hub is reachable.
    """
    import urllib.error
    import urllib.request

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    url = f"{endpoint}/api/models/{BASE_MODEL}"
    start = time.perf_counter()
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        pass
    except (OSError, ValueError) as e:  # URLError, timeouts and refused connections are OSErrors
        reason = getattr(e, "reason", None) or e
        return False, f"unreachable at {endpoint} ({reason})"
    return True, f"reachable at {endpoint} ({time.perf_counter() - start:.2f} s)"


def _base_model_cached() -> bool | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    return isinstance(try_to_load_from_cache(BASE_MODEL, "config.json"), str)


# --- the report -----------------------------------------------------------------------------


def check_environment(network: bool = True) -> EnvironmentReport:
    """Collect versions, GPUs, trackers and Hub access, and every finding about them.

    ``network=False`` skips the Hub request (the only thing that touches the network).
    """
    versions = installed_versions()
    findings = version_findings(versions, read_rules())
    torch_cuda, gpus, broken = None, [], None
    if versions["torch"] is not None:
        torch_cuda, gpus, broken = torch_facts()
    if broken:
        findings.append(broken)
    else:
        findings += hardware_findings(torch_cuda, gpus, shutil.which("nvidia-smi") is not None, versions["flash-attn"])
    trackers = {}
    for name in TRACKERS:
        try:
            trackers[name] = md.version(name)
        except md.PackageNotFoundError:
            trackers[name] = None

    if not network:
        hub = "not checked (--no_network)"
    elif os.environ.get("HF_HUB_OFFLINE") == "1":
        hub = "not checked: HF_HUB_OFFLINE=1 (offline mode)"
        findings.append(Finding("note", "HF_HUB_OFFLINE=1: Hub models and data sets load from the local cache only",
                                "unset HF_HUB_OFFLINE to download"))
    else:
        reachable, hub = hub_status()
        if not reachable:
            findings.append(Finding(
                "warning", f"the Hugging Face Hub is {hub}: Hub models and data sets cannot be downloaded",
                "check your connection or proxy (HTTPS_PROXY); or work offline with HF_HUB_OFFLINE=1, cached "
                "models, local folders and the bundled GSM8K (the tiny model needs no network)"))
    return EnvironmentReport(versions, torch_cuda, gpus, trackers, hub, _base_model_cached(), findings)


def format_report(report: EnvironmentReport) -> str:
    """The text ``minir1 doctor`` prints: a version table, GPU, trackers, Hub, then findings and the verdict."""
    v = report.versions
    rows = [("python", v["python"]), ("minir1", v.get("minir1") or "not installed (pip install -e .)")]
    for name in SHOWN:
        if v.get(name) is None:
            rows.append((name, f"not installed (optional: {OPTIONAL[name]})" if name in OPTIONAL else "MISSING"))
        elif name == "torch":
            build = (f"CUDA {report.torch_cuda} build" if report.torch_cuda else
                     "GPU build" if report.gpus else "CPU-only build")  # ROCm builds have no CUDA version
            rows.append((name, f"{v[name]} ({build})"))
        else:
            rows.append((name, v[name]))
    for i, gpu in enumerate(report.gpus):
        rows.append((f"GPU {i}", f"{gpu.name}, {gpu.memory_gib:.1f} GiB, compute capability "
                                 f"{gpu.capability[0]}.{gpu.capability[1]}, bf16 {'yes' if gpu.bf16 else 'emulated only'}"))
    if not report.gpus:
        rows.append(("GPU", "none visible"))
    have = [f"{k} {ver}" for k, ver in report.trackers.items() if ver]
    missing = [k for k, ver in report.trackers.items() if not ver]
    rows.append(("trackers", ", ".join(have) + (f" ({', '.join(missing)} not installed)" if missing else "")
                 if have else f"none installed ({', '.join(missing)})"))
    rows.append(("Hub", report.hub))
    if report.base_model_cached is not None:
        rows.append((BASE_MODEL, "in the local cache" if report.base_model_cached else
                     "not in the local cache (downloaded on first use)"))
    width = max(len(k) for k, _ in rows)
    lines = ["minir1 doctor"] + [f"  {k:<{width}}  {val}" for k, val in rows]
    for level in ("error", "warning", "note"):
        for f in (f for f in report.findings if f.level == level):
            lines += ["", f"{level}: {f.problem}"] + ([f"  fix: {f.fix}"] if f.fix else [])
    errors = sum(f.level == "error" for f in report.findings)
    warnings = sum(f.level == "warning" for f in report.findings)
    if errors:
        verdict = f"NOT READY: {errors} problem{'s' * (errors > 1)} block{'s' * (errors == 1)} training (see above)"
    else:
        verdict = "ready to train" + (f" ({warnings} warning{'s' * (warnings > 1)})" if warnings else "")
    return "\n".join(lines + ["", verdict])


def cli_doctor(args) -> int:
    """``minir1 doctor [--no_network]``: print the report; exit 1 when something blocks training."""
    report = check_environment(network=not args.no_network)
    print(report)
    return 0 if report.ok else 1
