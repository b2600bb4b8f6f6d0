"""This machine: what a run or a figure came from (versions, hardware), and the checks that depend on it.

Versions come from package metadata, so nothing is imported to read them (importing vLLM takes seconds, and
fails exactly when its versions are wrong); the copy first on ``sys.path``, the one that runs, is reported.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata as md
import importlib.util
import json
import os
import platform
import socket
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import UserError

if TYPE_CHECKING:
    from .config import GRPOSettings, TrainConfig

REPORT_TO = ("none", "tensorboard", "wandb", "trackio")
PACKAGES = ("minir1", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "tokenizers", "vllm")


def version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages, rounded (None where the platform has none)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def describe() -> dict:
    """Date, Python, platform, CPU, cores, memory, torch's threads, GPU (None without one), load average and the
    version of each of :data:`PACKAGES` that is installed."""
    info = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "gpu": None, "load_average": load_average()}
    with contextlib.suppress(AttributeError, OSError, IndexError, ValueError):  # not Linux
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        models = [x for x in Path("/proc/cpuinfo").read_text().splitlines() if x.startswith("model name")]
        info["cpu"] = models[0].split(":", 1)[1].strip()
    with contextlib.suppress(ImportError):
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"], info["cuda"] = torch.cuda.get_device_name(0), torch.version.cuda
    info["versions"] = {name: v for name in PACKAGES if (v := version(name))}
    return info


def world_size() -> int:
    """Processes in this run (set by torchrun and accelerate launch)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """True in the one process that writes the run folder."""
    return int(os.environ.get("RANK", "0")) == 0


def validate(cfg: TrainConfig) -> GRPOSettings:
    """Check what depends on this machine (trackers, vLLM, sharded weights); return the trainer's arguments.
    Every value was checked when the settings were built; nothing is loaded or written here."""
    _check_trackers(cfg.args.report_to)
    _check_vllm(cfg)
    zero3 = os.environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3"
    fsdp = os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true")
    if cfg.eval_every and (zero3 or fsdp):  # evaluation during training generates on the main process alone
        raise UserError(f"eval_every needs whole weights on the main process, but {'ZeRO-3' if zero3 else 'FSDP'} "
                        "shards them: set --eval_every 0 and run minir1 eval on the checkpoints")
    return cfg.args


def _check_trackers(report_to) -> None:
    for t in [report_to] if isinstance(report_to, str) else list(report_to or []):
        if t not in REPORT_TO and t != "all":
            raise UserError(f"report_to {t!r} is not one of {', '.join(REPORT_TO)}")
        # transformers writes tensorboard's events through either package
        modules = {"none": (), "all": (), "tensorboard": ("tensorboard", "tensorboardX")}.get(t, (t,))
        if modules and not any(importlib.util.find_spec(m) for m in modules):
            raise UserError(f"report_to {t} needs the {t} package: pip install {t} (or set --report_to none)")


def _check_vllm(cfg: TrainConfig) -> None:
    a = cfg.args
    if not a.use_vllm:
        return
    if a.vllm_mode not in ("colocate", "server"):
        raise UserError(f"vllm_mode must be colocate or server, got {a.vllm_mode!r}")
    if importlib.util.find_spec("vllm") is None:
        raise UserError("use_vllm is on but vLLM is not installed: pip install 'minir1[vllm]' (needs a CUDA GPU), "
                        "or set --use_vllm false")
    if a.vllm_mode == "colocate" and not 0 < a.vllm_gpu_memory_utilization < 1:
        raise UserError("vllm_gpu_memory_utilization must be between 0 and 1 (0.3 leaves room for training)")
    if a.vllm_mode == "server":
        host, port = a.vllm_server_host, a.vllm_server_port
        launch = f"`CUDA_VISIBLE_DEVICES=1 trl vllm-serve --model {cfg.model} --port {port}` on the generation GPU(s)"
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError:
            raise UserError(f"no vLLM server at {host}:{port}: start one with {launch}, or set --vllm_mode "
                            "colocate") from None
        try:  # the model an OpenAI-compatible server names at /v1/models, as `trl vllm-serve` does
            with urllib.request.urlopen(f"http://{host}:{port}/v1/models", timeout=3) as r:
                served = json.load(r)["data"][0]["id"]
        except (OSError, ValueError, KeyError, IndexError):
            return
        # a server started from a local folder reports the path it was given: compare the folders then
        paths = [Path(p).expanduser() for p in (served, cfg.model)]
        if served != cfg.model and not (all(p.exists() for p in paths) and os.path.samefile(*paths)):
            raise UserError(f"the vLLM server at {host}:{port} serves {served!r} but training uses {cfg.model!r}: "
                            f"restart it with {launch}")
