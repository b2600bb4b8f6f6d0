"""What every benchmark records beside its figures: the machine, the command and the date.

Each script calls :func:`record`, which writes ``bench/results/<name>.json``;
``bench/report.py`` turns those files into ``BENCHMARKS.md``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import sys
from pathlib import Path

# Where figures go; tests point this elsewhere so that a smoke run never overwrites a measurement.
RESULTS = Path(os.environ.get("MINIR1_BENCH_RESULTS", Path(__file__).parent / "results"))


def machine() -> dict:
    """CPU, cores, memory, GPU and library versions of this machine."""
    info = {"python": platform.python_version(), "platform": platform.platform(), "cores": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(x.split()[1]) for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        info["memory_gb"] = round(mem_kb / 2**20, 1)
    except (OSError, StopIteration):
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    for lib in ("transformers", "trl", "peft", "vllm"):
        try:
            info[lib] = __import__(lib).__version__
        except ImportError:
            pass
    return info


def _relative(script: str) -> str:
    """The script's path from the repository root, as a user types it."""
    try:
        return str(Path(script).resolve().relative_to(Path(__file__).resolve().parents[1]))
    except ValueError:
        return script


def record(name: str, figures: dict, notes: str = "") -> Path:
    """Write ``figures`` with machine, command and date to ``bench/results/<name>.json``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "name": name,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python " + " ".join(shlex.quote(a) for a in [_relative(sys.argv[0]), *sys.argv[1:]]),
        "machine": machine(),
        "figures": figures,
        "notes": notes,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return path
