"""What makes a real model's GRPO step fast on a CPU: the weights' dtype rule and the output layer's input.

Nothing here asserts a time (the speed is measured by ``bench/real_grpo_speed.py``): these tests check that
each measure keeps the numbers a user gets and reaches the model that training and evaluation use.
"""

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, TrainerCallback

from minir1 import models
from minir1.config import load_config
from minir1.models import ModelSpec, contiguous_head_input, cpu_training_dtype, load_for_inference
from minir1.train import train


def test_the_output_layer_gets_a_contiguous_input_and_the_same_logits(tiny_model):
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.bfloat16)
    hidden = torch.randn(3, 5, model.config.hidden_size, dtype=torch.bfloat16)
    last = hidden[:, -1:, :]  # what generation's first pass hands the output layer: a strided view
    assert not last.is_contiguous()
    head = model.get_output_embeddings()
    expected = head(last.contiguous())
    seen = []
    head.register_forward_hook(lambda module, args, out: seen.append(args[0].is_contiguous()))
    contiguous_head_input(model)
    contiguous_head_input(model)  # installed once, however often it is asked for
    assert len(head._forward_pre_hooks) == 1
    assert torch.equal(head(last), expected) and seen == [True]


def test_evaluation_loads_its_model_with_the_contiguous_head_input(tiny_model):
    model, _ = load_for_inference(ModelSpec(str(tiny_model)))
    assert model.get_output_embeddings()._minir1_contiguous_input


@pytest.mark.parametrize("lora,cpu_bf16,saved,expected", [
    (True, True, "bfloat16", "bfloat16"),  # a LoRA run's frozen base in bf16 where the CPU has bf16
    (True, False, "bfloat16", "float32"),  # no bf16 instructions: bf16 would be emulated, slower
    (True, True, "float32", "float32"),  # a model saved in fp32 (minir1's tiny ones) is not rounded
    (False, True, "bfloat16", "float32"),  # full fine-tuning trains every weight: fp32
])
def test_cpu_training_dtype(monkeypatch, lora, cpu_bf16, saved, expected):
    monkeypatch.setattr(models, "cpu_runs_bf16", lambda: cpu_bf16)
    monkeypatch.setattr(models, "saved_dtype", lambda model: saved)
    assert cpu_training_dtype("some/model", lora) == expected


class Probe(TrainerCallback):
    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.head_hooked = getattr(model.get_output_embeddings(), "_minir1_contiguous_input", False)
        self.dtypes = {n: p.dtype for n, p in model.named_parameters()}
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}


def test_training_on_a_cpu_loads_the_weights_as_the_rule_says_and_hooks_the_head(tmp_path, tiny_model,
                                                                                   monkeypatch):
    """The rule's choice reaches TRL's model and the saved run; a dtype the user gives wins over it."""
    monkeypatch.setattr(models, "cpu_runs_bf16", lambda: True)
    monkeypatch.setattr(models, "saved_dtype", lambda model: "bfloat16")  # as a real Qwen2.5 model's config says
    probe = Probe()
    cfg = load_config("tiny", {"model": str(tiny_model), "output_dir": str(tmp_path / "run"), "max_steps": 1,
                               "plot": False, "sample_every": 0})
    result = train(cfg, callbacks=[probe])
    assert probe.head_hooked
    assert {probe.dtypes[n] for n in probe.trainable} == {torch.float32}
    assert {d for n, d in probe.dtypes.items() if n not in probe.trainable} == {torch.bfloat16}
    assert json.loads((result.run_dir / "grpo_config.json").read_text())["model_init_kwargs"] == {"dtype": "bfloat16"}

    mine = Probe()
    cfg = load_config("tiny", {"model": str(tiny_model), "output_dir": str(tmp_path / "run2"), "max_steps": 1,
                               "plot": False, "sample_every": 0, "model_init_kwargs": {"dtype": "float32"}})
    train(cfg, callbacks=[mine])
    assert set(mine.dtypes.values()) == {torch.float32}


def test_bf16_on_a_gpu_is_one_rule_that_does_not_count_emulation(monkeypatch):
    """A T4 or V100 emulates bf16 at a fraction of fp16's speed: every command treats it as having none."""
    import torch

    from minir1.models import gpu_has_bf16

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert gpu_has_bf16() is False
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert gpu_has_bf16() is True
    src = Path(__file__).parents[1] / "src" / "minir1"
    askers = [p.name for p in src.glob("*.py") if "is_bf16_supported(" in p.read_text()]
    assert askers == ["models.py"], "ask minir1.models.gpu_has_bf16, the one rule"
