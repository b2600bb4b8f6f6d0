"""What a run or a figure came from: package versions and the machine, collected here once.

``minir1 train`` records :func:`describe` in ``launches.jsonl`` at every start, the demo in
``results.json`` and the benchmarks in every results file. Versions come from package metadata, so nothing is imported to read them
(importing vLLM takes seconds, and fails exactly when its versions are wrong); a package
found first on ``sys.path`` is the one reported, as it is the one that runs.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata as md
import os
import platform
from pathlib import Path

PACKAGES = ("minir1", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers", "vllm")


def versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Each installed package's version (one that is not installed is left out)."""
    found = {}
    for name in names:
        try:
            found[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return found


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, rounded (None where the platform has none)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def describe() -> dict:
    """Date, Python, platform, CPU, cores, memory, torch's threads, GPU (None without one), load average and
    :func:`versions`."""
    info = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "gpu": None,
            "load_average": load_average()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        info["memory_gb"] = round(kb / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"], info["cuda"] = torch.cuda.get_device_name(0), torch.version.cuda
    except ImportError:
        pass
    info["versions"] = versions()
    return info
