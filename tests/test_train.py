"""`minir1 train` on the tiny model: LoRA and full fine-tuning, the run folder, resume, interrupt, errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import TrainerCallback

from minir1.config import load_config
from minir1.jsonl import read_jsonl
from minir1.train import train

TESTS = Path(__file__).parent
SPREAD = "spread_rewards:length_bonus"
KEYS = ["step", "reward", "rewards/format_rubric/mean", "rewards/correctness/mean", "rewards/length_bonus/mean",
        "completions/mean_length", "completions/clipped_ratio", "frac_reward_zero_std", "learning_rate",
        "step_seconds", "gen_tokens_per_second", "grad_norm"]


def tiny_cfg(tmp_path, tiny_model, **over):
    settings = {"model": str(tiny_model), "output_dir": str(tmp_path / "run"), "plot": False,
                "rewards": ["format_rubric", "correctness", SPREAD], "reward_weights": [13, 10, 1]}
    settings.update(over)
    return load_config("tiny", settings)


class Snapshot(TrainerCallback):
    """Parameters at the start and end of training, to see what moved."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.before = {n: p.detach().clone() for n, p in model.named_parameters()}

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.after = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}

    def changed(self):
        return {n for n in self.before if not torch.equal(self.before[n], self.after[n])}


def test_lora_smoke_moves_only_the_adapter_and_writes_the_run_folder(tmp_path, tiny_model):
    snap = Snapshot()
    result = train(tiny_cfg(tmp_path, tiny_model, plot=True), command="pytest", callbacks=[snap])
    run = result.run_dir
    assert result.steps == 4 and not result.interrupted
    changed = snap.changed()
    assert changed and all("lora_" in n for n in changed), "only LoRA weights may move"
    assert all("lora_" in n for n in snap.trainable), "the base model stays frozen"
    assert {n for n in snap.trainable if "lora_B" in n} <= changed, "every LoRA B matrix learned"

    records = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    for key in KEYS:
        assert all(key in r for r in records), key
    assert any(r["grad_norm"] > 0 for r in records)
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "launches.jsonl", "metrics.jsonl", "samples.jsonl",
                                               "checkpoint-2", "checkpoint-4", "final", "plots", "summary.json",
                                               "README.md"}
    assert (run / "final" / "adapter_config.json").is_file()
    card = (run / "final" / "README.md").read_text()
    assert f"base_model: {tiny_model}" in card and "| steps | 4 |" in card and "format_rubric" in card
    samples = read_jsonl(run / "samples.jsonl")
    assert {s["step"] for s in samples} == {1, 2, 4} and len(samples) == 12
    assert set(samples[0]["rewards"]) == {"format_rubric", "correctness", "length_bonus"}
    saved = load_config(str(run / "config.yaml"))
    assert saved.rewards == ["format_rubric", "correctness", SPREAD] and saved.tag_style == "think"
    assert json.loads((run / "launches.jsonl").read_text())["versions"]["trl"]
    assert sorted(p.name for p in (run / "plots").iterdir()) == ["diagnostics.png", "rewards.png"]


def test_warmstart_command_writes_a_loadable_model(tmp_path, tiny_model):
    from transformers import AutoModelForCausalLM

    from minir1.cli import main

    out = tmp_path / "warm"
    assert main(["warmstart", "--model", str(tiny_model), "--limit", "16", "--epochs", "1", "--batch_size", "8",
                 "--output_dir", str(out)]) == 0
    AutoModelForCausalLM.from_pretrained(out)
    assert main(["warmstart", "--model", str(tiny_model), "--limit", "16", "--output_dir", str(out)]) == 2


def test_full_fine_tuning_moves_the_base_weights(tmp_path, tiny_model):
    snap = Snapshot()
    result = train(tiny_cfg(tmp_path, tiny_model, lora=False, max_steps=2, learning_rate=1e-3), callbacks=[snap])
    assert len(snap.changed()) > 0.9 * len(snap.before)
    assert not any("lora_" in n for n in snap.before)
    assert (result.final_dir / "model.safetensors").is_file()
    assert not (result.final_dir / "adapter_config.json").exists()


class CrashAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.global_step == self.step:
            raise RuntimeError("simulated crash")


def sample_ids(run):
    out = {}
    for s in read_jsonl(run / "samples.jsonl"):
        out.setdefault(s["step"], []).append(s["id"])
    return out


def test_resume_after_a_crash_loses_and_repeats_nothing(tmp_path, tiny_model):
    reference = train(tiny_cfg(tmp_path / "a", tiny_model, sample_every=1))
    cfg = tiny_cfg(tmp_path / "b", tiny_model, sample_every=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, callbacks=[CrashAt(3)])  # after checkpoint-2 and step 3's log line
    run = cfg.run_dir
    assert [r["step"] for r in read_jsonl(run / "metrics.jsonl")] == [1, 2, 3]
    result = train(tiny_cfg(tmp_path / "b", tiny_model, sample_every=1, resume=True))
    assert result.steps == 4
    assert [r["step"] for r in read_jsonl(run / "metrics.jsonl")] == [1, 2, 3, 4]
    assert sample_ids(run) == sample_ids(reference.run_dir), "same data order as an uninterrupted run"
    assert len(read_jsonl(run / "launches.jsonl")) == 2


def run_cli(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(TESTS), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "minir1", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_saves_a_checkpoint_and_resume_finishes(tmp_path, tiny_model, sig):
    run = tmp_path / "run"
    common = ["--model", str(tiny_model), "--output_dir", str(run), "--plot", "false",
              "--rewards", f"[format_rubric, correctness, '{SPREAD}']", "--reward_weights", "[13, 10, 1]",
              "--save_steps", "1000"]
    proc = run_cli(["train", "--config", "tiny", "--max_steps", "200", *common])
    deadline = time.time() + 120
    while time.time() < deadline and len(read_jsonl(run / "metrics.jsonl")) < 2:
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert f"{sig.name} received: saving a checkpoint" in err and "--resume" in err
    checkpoints = sorted(run.glob("checkpoint-*"))
    assert len(checkpoints) == 1, "the interrupt saved a checkpoint although save_steps is 1000"
    stopped_at = int(checkpoints[0].name.split("-")[1])
    assert 2 <= stopped_at < 200
    assert [r["step"] for r in read_jsonl(run / "metrics.jsonl")] == list(range(1, stopped_at + 1))

    proc = run_cli(["train", "--resume", "--output_dir", str(run), "--max_steps", str(stopped_at + 2)])
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    assert [r["step"] for r in read_jsonl(run / "metrics.jsonl")] == list(range(1, stopped_at + 3))
    assert (run / "final" / "adapter_config.json").is_file()
