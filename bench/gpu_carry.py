"""Prepare the wheels a GPU session carries to the GPU machine for ``bench/gpu_check.py``.

The lent GPU machine has Python 3.12 with torch, transformers, peft and accelerate, but no
TRL or datasets and no network (``/work/.library/device/README.md`` where that tool
exists). This script downloads, into the ignored folder ``.whl/``, the wheels for that
machine (CPython 3.12, manylinux x86-64) of minir1's training libraries and everything
they need, at the versions installed where this script runs (the versions the test
suite passed with), leaving out the heavy ones the GPU machine already has (torch,
numpy, pyarrow, pandas) and transformers' optional ``kernels``. ``bench/gpu_check.py --wheels
.whl`` installs every one of them there (no dependency resolution), ahead of the machine's own
copies on ``PYTHONPATH``.

It then checks what travels with a call (the working tree git does not ignore, plus
``.whl/``) stays under the device tool's 64 MiB limit, and exits non-zero if not.

    .venv/bin/python bench/gpu_carry.py            # fetch into .whl/ and check the size
    .venv/bin/python bench/gpu_carry.py --check    # only check the size of what would travel
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import subprocess
import sys
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
WHEELS = ROOT / ".whl"
LIMIT_MIB = 64
MANIFEST = "fetched.txt"  # the wheels this script put in WHEELS: the only ones it ever deletes
# What minir1 trains with and the GPU machine lacks or holds at other versions.
TOP = ["trl", "transformers", "datasets", "peft", "accelerate", "huggingface-hub", "tokenizers", "safetensors",
       "pyyaml", "tqdm"]
# Already on the GPU machine and too heavy to carry (pyarrow alone is about 40 MiB).
LEAVE = {"torch", "numpy", "pyarrow", "pandas", "triton", "sympy", "networkx", "jinja2", "markupsafe", "mpmath",
         "setuptools", "pip", "python-dateutil", "six", "tzdata", "pytz", "psutil",
         # transformers' optional Hub kernels: with it installed, a CUDA run fetches kernels from the Hub,
         # which the offline GPU machine cannot do
         "kernels"}
# The GPU machine's interpreter and platform, for environment markers and pip's download filters.
TARGET = {**default_environment(), "python_version": "3.12", "python_full_version": "3.12.3",
          "platform_machine": "x86_64", "sys_platform": "linux", "platform_system": "Linux", "extra": ""}
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]


def closure(top: list[str]) -> dict[str, str]:
    """Every distribution ``top`` needs (on the GPU machine's Python and platform), with the version installed here."""
    pins: dict[str, str] = {}
    todo = list(top)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in pins or name in LEAVE:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{name} is not installed here: run this with the environment the tests use "
                             f"(.venv/bin/python bench/gpu_carry.py)") from None
        pins[name] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(TARGET):
                todo.append(req.name)
    return dict(sorted(pins.items()))


def travelling_bytes() -> tuple[int, int]:
    """Bytes of the working tree that travels (tracked and untracked-not-ignored files) and of ``.whl/``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    tree = sum((ROOT / p).stat().st_size for p in listed if p and (ROOT / p).is_file())
    wheels = sum(p.stat().st_size for p in WHEELS.glob("*.whl")) if WHEELS.is_dir() else 0
    return tree, wheels


def check_size() -> int:
    tree, wheels = travelling_bytes()
    total = tree + wheels
    print(f"travels: working tree {tree / 2**20:.1f} MiB + .whl {wheels / 2**20:.1f} MiB = {total / 2**20:.1f} MiB "
          f"(limit {LIMIT_MIB} MiB)")
    if total >= LIMIT_MIB * 2**20:
        print(f"too big for one call: leave out a wheel the GPU machine already has (LEAVE in {__file__})",
              file=sys.stderr)
        return 1
    return 0


def fetch(pins: dict[str, str]) -> None:
    WHEELS.mkdir(exist_ok=True)
    wanted = {f"{n}=={v}" for n, v in pins.items()}
    # drop the wheels an earlier run fetched that are no longer wanted (other versions, packages left out);
    # a wheel this script did not fetch is never touched
    fetched = WHEELS / MANIFEST
    for line in fetched.read_text().splitlines() if fetched.is_file() else []:
        old = WHEELS / line
        name, version = line.split("-")[:2]
        if old.is_file() and pins.get(canonicalize_name(name)) != version:
            old.unlink()
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
           "3.12", "--implementation", "cp", "-d", str(WHEELS), *[a for p in PLATFORMS for a in ("--platform", p)],
           *sorted(wanted)]
    subprocess.run(cmd, check=True)
    mine = {p.name for p in WHEELS.glob("*.whl")
            if pins.get(canonicalize_name(p.name.split("-")[0])) == p.name.split("-")[1]}
    fetched.write_text("".join(f"{n}\n" for n in sorted(mine)))
    (WHEELS / "requirements.txt").write_text("".join(f"{n}=={v}\n" for n, v in pins.items() if n in
                                                     {canonicalize_name(t) for t in TOP}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check the size of what would travel")
    args = ap.parse_args()
    if not args.check:
        pins = closure(TOP)
        print("carrying: " + ", ".join(f"{n} {v}" for n, v in pins.items()))
        fetch(pins)
    raise SystemExit(check_size())


if __name__ == "__main__":
    main()
