"""On a CUDA GPU: bf16 chosen automatically, training and evaluation run there. Skipped without a GPU."""

import pytest

pytestmark = pytest.mark.gpu


def test_auto_dtype_is_bf16_on_a_gpu_that_has_it():
    import torch

    from minir1.models import device_and_dtype

    device, dtype = device_and_dtype("auto")
    assert device.type == "cuda"
    assert dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported(including_emulation=False) else torch.float32)


def test_tiny_recipe_trains_on_the_gpu(tmp_path, tiny_model):
    import torch

    from minir1.config import load_config
    from minir1.train import train

    cfg = load_config("tiny", {"model": str(tiny_model), "output_dir": str(tmp_path / "run"), "plot": False,
                               "rewards": ["format_rubric", "correctness", "spread_rewards:length_bonus"],
                               "reward_weights": [13, 10, 1]})
    result = train(cfg)
    assert result.steps == 4
    assert result.summary["peak_gpu_memory_gb"] is not None and torch.cuda.max_memory_allocated() > 0


def test_eval_runs_on_the_gpu(tmp_path, tiny_model):
    import torch

    from minir1.evaluate import EvalSettings, run_eval

    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()  # what earlier tests left: the peak starts there
    summary = run_eval(EvalSettings(str(tiny_model), limit=8, max_new_tokens=16).resolve(), tmp_path / "eval", progress=False)
    assert summary["n"] == 8
    assert torch.cuda.max_memory_allocated() > before  # the model and its generation were on the GPU
