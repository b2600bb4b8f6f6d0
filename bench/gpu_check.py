"""Every GPU figure BENCHMARKS.md needs, in one command on the lent GPU machine; a CPU smoke mode keeps it honest.

A session that is lent a GPU spends it with one call (BENCHMARKS.md, "Measuring on a GPU",
gives the calls in order)::

    python3 bench/gpu_check.py --wheels .whl --out "$OUT"

Stages, each a benchmark script or minir1 command in its own process with its own time
limit, so one that fails or overruns costs only its own figures:

1. ``install``: the wheels ``bench/gpu_carry.py`` prepared (TRL, datasets, the pinned
   transformers and what they need) into ``/tmp/minir1-site``, ahead of the machine's own
   packages on ``PYTHONPATH``; minir1 itself runs from ``src/``.
2. ``tests``: ``pytest -m gpu`` (they check that the work ran on CUDA), at the same time as
3. ``recipe_memory``: the ``mini-r1`` recipe (``bench/recipe_step.py``) on Qwen2.5-0.5B-Instruct's
   architecture with random weights, at its 512-token length, at micro-batches of 4, 8 and
   16 (accumulating to the recipe's 64 completions per step), with and without activation
   checkpointing: six runs side by side on the one GPU, so their **peak GPU memory** is
   each process's own and exact, while their seconds per step are shared-GPU figures,
   comparable with each other only;
4. ``grpo_step``: the seeds' setup against minir1's defaults on the same work, alone on
   the GPU (``bench/grpo_step.py --gpu``);
5. ``rollout``: generated tokens/s of each generation backend (``bench/rollout_throughput.py --gpu``);
6. ``demo``: ``minir1 demo`` on the GPU, its wall time and figures.

Results go to ``--out`` as at most 8 files (the device tool's limit): ``gpu-check.json``
(each stage's status, seconds and test counts; its machine record holds the versions used), ``gpu-check.log``
(every stage's output), and one results file per measuring stage, named as the
benchmark scripts name theirs, ready for ``bench/results/``.

``--smoke`` runs every stage at toy size on the CPU (the tests' tiny model, the quick
modes, the ``tiny`` recipe), so the test suite proves between GPU sessions that each
stage still runs and writes its file with its fields; its figures are not results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402

SITE = Path("/tmp/minir1-site")
# (micro-batch, activation checkpointing): the recipe's 64 completions per step in every case
MATRIX_GPU = [(4, False), (8, False), (16, False), (4, True), (8, True), (16, True)]
MATRIX_SMOKE = [(4, False), (8, True)]  # the tiny recipe's 8 completions per step
COMPLETIONS = {"mini-r1": 64, "tiny": 8}
STAGES = ("tests", "recipe_memory", "grpo_step", "rollout", "demo")


class Check:
    """Runs the stages within the overall budget, logging every child's output to one file."""

    def __init__(self, out: Path, budget: float, env: dict, smoke: bool):
        self.out, self.deadline, self.env, self.smoke = out, time.monotonic() + budget, env, smoke
        self.log = out / "gpu-check.log"
        self.stages: dict[str, dict] = {}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen:
        with self.log.open("a") as f:
            f.write(f"\n### {name}: {shlex.join(cmd)}\n")
            # its own process group, so that a timeout stops the minir1 train it started too
            return subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def wait(self, procs: list[subprocess.Popen], cap: float) -> list[int | str]:
        """Wait for every process up to ``cap`` seconds (and the budget); stop what is left, with everything it
        started. Exit codes or 'timeout'; ``self.ended`` holds the seconds each took (in the order waited)."""
        t = time.monotonic()
        end = t + max(1.0, min(cap, self.left()))
        codes: list[int | str] = []
        self.ended = []
        for p in procs:
            try:
                codes.append(p.wait(timeout=max(0.1, end - time.monotonic())))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                codes.append("timeout")
            self.ended.append(round(time.monotonic() - t, 1))
        return codes

    def stage(self, name: str, cmds: list[list[str]], cap: float, files: list[str] = ()) -> dict:
        """Run ``cmds`` side by side as one stage; record its status, wall time and the results files it wrote."""
        t = time.monotonic()
        if self.left() < 5:
            info = {"status": "skipped: out of time"}
        else:
            codes = self.wait([self.start(name, c) for c in cmds], cap)
            ok = all(c == 0 for c in codes)
            info = {"status": "ok" if ok else "failed", "exit_codes": codes, "seconds": round(time.monotonic() - t, 1),
                    "commands": [shlex.join(c) for c in cmds]}
        info["files"] = [f for f in files if (self.out / f).is_file() or (RESULTS / f).is_file()]
        self.stages[name] = info
        print(f"[gpu_check] {name}: {info['status']} ({info.get('seconds', 0)} s, {self.left():.0f} s left)",
              flush=True)
        return info


RESULTS = Path(tempfile.mkdtemp(prefix="minir1-gpu-check-"))  # the benchmark scripts' record() writes here


def install(wheels: Path, log: Path) -> dict:
    """Install every carried wheel into SITE (no dependency resolution: the carry holds the closure)."""
    t = time.monotonic()
    manifest = wheels / "fetched.txt"  # what bench/gpu_carry.py fetched; any other wheel there is not ours
    listed = sorted(str(wheels / n) for n in manifest.read_text().split()) if manifest.is_file() else sorted(
        str(p) for p in wheels.glob("*.whl"))
    if not listed:
        raise SystemExit(f"no wheels in {wheels}: run `python bench/gpu_carry.py` here first")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
           "--upgrade", "--target", str(SITE), *listed]
    with log.open("a") as f:
        f.write(f"\n### install: pip install --target {SITE} ({len(listed)} wheels)\n")
        try:
            code = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=300).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    return {"status": "ok" if code == 0 else "failed", "exit_codes": [code],
            "seconds": round(time.monotonic() - t, 1), "wheels": [Path(p).name for p in listed]}


def junit_counts(path: Path) -> dict:
    import xml.etree.ElementTree as ET

    if not path.is_file():
        return {}
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    n = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    n["passed"] = n["tests"] - n["failures"] - n["errors"] - n["skipped"]
    return n


def build_model(folder: Path, smoke: bool, env: dict) -> str:
    """The model of the recipe_memory runs: Qwen2.5-0.5B-Instruct's architecture, random bf16 weights (smoke: the
    tiny one), built once for the six of them."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); from grpo_step import build_model; from pathlib import "
            f"Path; print(build_model(Path({str(folder)!r}), gpu={not smoke}, quick={smoke}))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    if done.returncode:
        print(done.stderr[-4000:], file=sys.stderr)
        raise RuntimeError("could not build the recipe_memory runs' model (its error is above)")
    return done.stdout.strip().splitlines()[-1]


def matrix_commands(recipe: str, model: str, smoke: bool) -> list[tuple[str, str, list[str]]]:
    """(variant, results file name, command) for each micro-batch size and checkpointing setting."""
    out = []
    completions = COMPLETIONS[recipe]
    for micro, checkpointing in MATRIX_SMOKE if smoke else MATRIX_GPU:
        variant = f"mb{micro}" + ("-ckpt" if checkpointing else "")
        cmd = [sys.executable, str(HERE / "recipe_step.py"), "--recipe", recipe, "--name", variant,
               "--per_device_train_batch_size", str(micro),
               "--gradient_accumulation_steps", str(completions // micro),
               "--activation_checkpointing", "true" if checkpointing else "false"]
        cmd += ["--quick"] if smoke else ["--gpu", "--model", model, "--steps", "2"]
        name = f"recipe_step-{recipe}-" + ("cpu-quick" if smoke else "gpu") + f"-{variant}"
        out.append((variant, name, cmd))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT"), help="folder for the results (default: $OUT)")
    ap.add_argument("--wheels", help="install the wheels in this folder first (bench/gpu_carry.py makes it)")
    ap.add_argument("--smoke", action="store_true", help="every stage at toy size on the CPU (the test suite)")
    ap.add_argument("--stages", default=",".join(STAGES), help="comma-separated, of: " + ", ".join(STAGES) +
                    " (default: all)")
    ap.add_argument("--budget", type=float, help="seconds for the whole check (default 480; --smoke 1400): a stage "
                                                              "still running then is stopped and recorded so")
    args = ap.parse_args()
    if args.budget is None:
        args.budget = 1400 if args.smoke else 480
    wanted = set(args.stages.split(","))
    if wanted - set(STAGES):
        raise SystemExit(f"unknown stages {sorted(wanted - set(STAGES))}: choose from {', '.join(STAGES)}")
    if not args.out:
        raise SystemExit("--out is required where $OUT is not set")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise SystemExit(f"{out} is not empty: give an empty or new folder to --out")
    started = time.monotonic()
    log = out / "gpu-check.log"
    log.touch()
    stages = {}
    paths = [str(ROOT / "src"), str(HERE)]
    if args.wheels:
        stages["install"] = install(Path(args.wheels), log)
        paths.insert(0, str(SITE))
        sys.path.insert(0, str(SITE))  # the versions record() writes are those the stages run with
        print(f"[gpu_check] install: {stages['install']['status']} ({stages['install']['seconds']} s)", flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "MINIR1_BENCH_RESULTS": str(RESULTS), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1", "USE_HUB_KERNELS": "NO", "TOKENIZERS_PARALLELISM": "false", "MPLBACKEND": "Agg"}
    check = Check(out, args.budget - (time.monotonic() - started), env, args.smoke)
    check.stages.update(stages)
    found = common.machine()  # this process sees the carried packages first, as the stages do
    if not args.smoke and not found.get("gpu"):
        print("[gpu_check] no CUDA GPU here: run with --smoke on a CPU", file=sys.stderr)
    py = sys.executable
    recipe = "tiny" if args.smoke else "mini-r1"
    mode = "quick" if args.smoke else "gpu"
    common.RESULTS = out  # what this script records itself goes to --out; the stages' scripts write to RESULTS
    try:
        with tempfile.TemporaryDirectory() as tmp:
            model = build_model(Path(tmp) / "model", args.smoke, env) if "recipe_memory" in wanted else ""
            junit = Path(tmp) / "junit.xml"
            tests = [py, "-m", "pytest", "-m", "gpu", "tests/test_gpu.py", "-q", "-p", "no:cacheprovider",
                     f"--junitxml={junit}"]
            matrix = matrix_commands(recipe, model, args.smoke) if "recipe_memory" in wanted else []
            cmds = [c for _, _, c in matrix]
            t = time.monotonic()
            testing = [check.start("tests", tests)] if "tests" in wanted else []
            codes = check.wait(testing + [check.start(n, c) for _, n, c in matrix], 600 if args.smoke else 240)
            seconds = round(time.monotonic() - t, 1)
            if testing:  # its own wall time: it is waited for first
                check.stages["tests"] = {"status": "ok" if codes[0] == 0 else "failed", "exit_codes": codes[:1],
                                         "seconds": check.ended[0], "side_by_side_with": "recipe_memory",
                                         "commands": [shlex.join(tests)], **junit_counts(junit)}
            codes = codes[len(testing):]
            runs = {}
            for (variant, name, _), code in zip(matrix, codes):
                path = RESULTS / f"{name}.json"
                runs[variant] = json.loads(path.read_text())["figures"] if path.is_file() else {"error": f"exit {code}"}
            if matrix:
                check.stages["recipe_memory"] = {"status": "ok" if all(c == 0 for c in codes) else "failed",
                                                 "exit_codes": codes, "seconds": seconds,
                                                 "commands": [shlex.join(c) for c in cmds]}
                memory_name = f"recipe_memory-{recipe}-{mode}"
                common.record(memory_name, {
                    "recipe": recipe, "work_per_step": f"{COMPLETIONS[recipe]} completions",
                    "side_by_side": f"{len(cmds)} runs at once on one device: peak memory is each process's own; seconds "
                                    "per step are shared-device figures, comparable with each other only",
                    "runs": runs}, notes="bench/gpu_check.py: bench/recipe_step.py at each micro-batch size, with and without "
                                         "activation checkpointing, the recipe's completions per step in every case")
                check.stages["recipe_memory"]["files"] = [f"{memory_name}.json"]
            print(f"[gpu_check] tests and recipe_memory: {codes} ({seconds} s, {check.left():.0f} s left)", flush=True)

            grpo = [py, str(HERE / "grpo_step.py"), "--quick"] if args.smoke else [
                py, str(HERE / "grpo_step.py"), "--gpu", "--setups", "seeds,minir1", "--rounds", "1", "--steps", "1"]
            if "grpo_step" in wanted:
                info = check.stage("grpo_step", [grpo], 240, [f"grpo_step-{mode}.json"])
                path = RESULTS / f"grpo_step-{mode}.json"
                if path.is_file() and any("error" in v for v in json.loads(path.read_text())["figures"]["setups"].values()):
                    info["status"] = "failed"  # the script keeps going past a setup that fails; its file says why
            rollout = [py, str(HERE / "rollout_throughput.py")] + (["--quick"] if args.smoke else ["--gpu", "--repeats",
                                                                                                  "1"])
            if "rollout" in wanted:
                check.stage("rollout", [rollout], 120, [f"rollout_throughput-{mode}.json"])
            demo_dir = Path(tmp) / "demo"
            demo = [py, "-m", "minir1", "demo", "--output_dir", str(demo_dir)] + (["--quick"] if args.smoke else [])
            if "demo" in wanted:
                info = check.stage("demo", [demo], 600)
            if "demo" in wanted and (demo_dir / "results.json").is_file():
                results = json.loads((demo_dir / "results.json").read_text())
                common.record(f"demo-{mode}", {"wall_seconds": info.get("seconds"), "results": results},
                              notes="minir1 demo" + (" --quick" if args.smoke else "") + " run by bench/gpu_check.py")
                info["files"] = [f"demo-{mode}.json"]
        for name in ("grpo_step", "rollout"):
            for f in check.stages.get(name, {}).get("files", []):
                shutil.copy(RESULTS / f, out / f)
    except Exception as e:  # keep what was measured: the summary below is written whatever happened
        check.stages["error"] = {"status": f"failed: {type(e).__name__}: {e}"}
        print(f"[gpu_check] stopped by {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    shutil.rmtree(RESULTS, ignore_errors=True)
    summary = {"smoke": args.smoke, "budget_seconds": args.budget, "seconds": round(time.monotonic() - started, 1),
               "stages": check.stages}
    common.record("gpu-check" + ("-smoke" if args.smoke else ""), summary,
                  notes="bench/gpu_check.py: every stage's status; the figures are in the files each stage names")
    failed = [n for n, s in check.stages.items() if s["status"] != "ok"]
    print(f"[gpu_check] done in {summary['seconds']} s; " + (f"not ok: {', '.join(failed)}" if failed else "all ok"),
          flush=True)
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
