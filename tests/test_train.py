"""`minir1 train` on the tiny model: LoRA and full fine-tuning, the run folder, resume, interrupt, errors."""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, TrainerCallback

from minir1 import rewards, runs
from minir1.config import load_config
from minir1.data import load_problems
from minir1.errors import UserError
from minir1.jsonl import read_jsonl
from minir1.runs import load_run
from minir1.train import check_run_dir, train, training_problems

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


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_model):
    """One finished LoRA run of the tiny recipe, shared by the tests that read or resume it."""
    snap = Snapshot()
    result = train(tiny_cfg(tmp_path_factory.mktemp("lora"), tiny_model, plot=True), command="pytest",
                   callbacks=[snap])
    return result, snap


def test_lora_smoke_moves_only_the_adapter_and_writes_the_run_folder(lora_run, tiny_model):
    result, snap = lora_run
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
    assert {p.name for p in run.iterdir()} >= {".minir1-run", "config.yaml", "grpo_config.json", "launches.jsonl", "metrics.jsonl",
                                               "samples.jsonl", "checkpoint-2", "checkpoint-4", "final", "plots",
                                               "summary.json", "README.md"}
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


def test_the_run_folder_holds_what_trl_ended_with(lora_run):
    run = lora_run[0].run_dir
    grpo = json.loads((run / "grpo_config.json").read_text())
    # TRL's own post-init values are there (it derives the generation batch), and checkpointing is really off
    assert grpo["max_steps"] == 4 and grpo["generation_batch_size"] == 8 and grpo["steps_per_generation"] == 1
    assert grpo["activation_checkpointing"] is False and grpo["gradient_checkpointing"] is False
    assert grpo["reward_weights"] == [13.0, 10.0, 1.0] and grpo["output_dir"] == str(run)
    # the arguments the trainer held, as transformers saved them in the checkpoint, agree
    args = torch.load(run / "checkpoint-4" / "training_args.bin", weights_only=False)
    assert args.activation_checkpointing is False and args.max_steps == 4 and args.learning_rate == 1e-3
    assert vars(load_run(run).args) == grpo and load_run(run).reward_points == {"format_rubric": 13.0, "correctness": 10.0,
                                                                         "length_bonus": 1.0}


def snapshot(run: Path) -> dict:
    return {str(p.relative_to(run)): (p.stat().st_mtime_ns, p.read_bytes()) for p in run.rglob("*") if p.is_file()}


def test_resuming_a_finished_run_says_so_and_does_nothing(lora_run, capsys):
    from minir1.cli import main

    run = lora_run[0].run_dir
    before = snapshot(run)
    assert main(["train", "--resume", "--output_dir", str(run)]) == 0
    assert f"{run} already finished at step 4: nothing to do" in capsys.readouterr().out
    assert main(["train", "--resume", "--output_dir", str(run), "--max_steps", "4", "--plot", "false"]) == 0
    assert snapshot(run) == before, "no training: final/, summary.json and every other file untouched"


def test_resume_refuses_to_change_what_the_run_learns_from(lora_run, capsys, tmp_path):
    from minir1.cli import main

    run = lora_run[0].run_dir
    before = snapshot(run)
    assert main(["train", "--resume", "--output_dir", str(run), "--lora_r", "4"]) == 2
    err = capsys.readouterr().err
    assert "lora_r would change from 8 to 4: on resume only max_steps, num_train_epochs" in err
    assert err.count("\n") == 1
    assert main(["train", "--resume", "--output_dir", str(run), "--learning_rate", "1e-5"]) == 2
    assert "learning_rate would change from 0.001 to 1e-05" in capsys.readouterr().err
    assert snapshot(run) == before
    # a run saved before a setting existed trained with its default: changing it on resume is refused too
    old = tmp_path / "old"
    shutil.copytree(run, old)
    config = old / runs.CONFIG
    config.write_text("".join(line for line in config.read_text().splitlines(keepends=True)
                              if not line.startswith("max_solution_steps:")))
    assert main(["train", "--resume", "--output_dir", str(old), "--max_solution_steps", "2"]) == 2
    assert "max_solution_steps would change from None to 2" in capsys.readouterr().err
    assert main(["train", "--resume", "--output_dir", str(old)]) == 0  # unchanged: finished, nothing to do
    assert "already finished at step 4: nothing to do" in capsys.readouterr().out


def test_overwrite_replaces_only_a_run_folder_and_only_after_every_check(tmp_path, tiny_model):
    unrelated = tmp_path / "notes"
    unrelated.mkdir()
    (unrelated / "thesis.tex").write_text("years of work")
    for overwrite in (True, False):  # never "pass --overwrite", which would not help
        with pytest.raises(UserError, match="is not a minir1 run folder .*never replaced: choose another folder"):
            train(tiny_cfg(tmp_path, tiny_model, output_dir=str(unrelated), overwrite=overwrite))
    assert (unrelated / "thesis.tex").read_text() == "years of work"
    # many projects keep a config.yaml at their root: that does not make them a run
    (unrelated / "config.yaml").write_text("title: thesis\n")
    (unrelated / "launches.jsonl").write_text("{}\n")
    with pytest.raises(UserError, match="is not a minir1 run folder .*never replaced"):
        train(tiny_cfg(tmp_path, tiny_model, output_dir=str(unrelated), overwrite=True))
    assert (unrelated / "thesis.tex").read_text() == "years of work"

    run = tmp_path / "old-run"
    run.mkdir()
    runs.mark(run)
    (run / "config.yaml").write_text("model: tiny\n")
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    before = snapshot(run)
    with pytest.raises(UserError, match="already exists: pass --overwrite to replace a minir1 run folder, --resume "
                                        "to continue it, or choose another folder"):
        train(tiny_cfg(tmp_path, tiny_model, output_dir=str(run)))
    for typo, message in (({"data": str(tmp_path / "trian.jsonl")}, "data file not found"),
                          ({"model": str(tmp_path / "no-model")}, "model not found")):
        with pytest.raises(UserError, match=message):
            train(tiny_cfg(tmp_path, tiny_model, output_dir=str(run), overwrite=True, **typo))
        assert snapshot(run) == before, "a typo costs nothing: the old run is intact"
    inside = run / "problems.jsonl"
    inside.write_text('{"question": "1+1?", "answer": "2"}\n')
    with pytest.raises(UserError, match="--overwrite would delete the data .* which is inside"):
        train(tiny_cfg(tmp_path, tiny_model, output_dir=str(run), overwrite=True, data=str(inside)))
    assert check_run_dir(tiny_cfg(tmp_path, tiny_model, output_dir=str(run), overwrite=True)) is True
    empty = tmp_path / "empty"
    empty.mkdir()
    assert check_run_dir(tiny_cfg(tmp_path, tiny_model, output_dir=str(empty))) is False


PROMPTS_SEEN: list = []


def prompt_recorder(completions, prompts=None, prefill=None, **kwargs):
    """A reward that records the prompts and prefills TRL hands the rewards (and gives nothing)."""
    if prompts is not None:  # None when samples.jsonl re-scores a completion for the record
        PROMPTS_SEEN.extend(zip(prompts, prefill, strict=True))
    return [0.0] * len(completions)


@pytest.mark.slow
def test_a_prefill_ends_the_prompt_trl_renders_and_reaches_the_rewards(tmp_path, tiny_model):
    from transformers import AutoTokenizer

    prefill = "<think>\n"
    PROMPTS_SEEN.clear()
    cfg = tiny_cfg(tmp_path, tiny_model, prefill=prefill, max_steps=1, sample_every=1, eval_every=1, eval_limit=2,
                   rewards=["format_rubric", "correctness", "test_train:prompt_recorder"])
    result = train(cfg)
    assert result.steps == 1 and PROMPTS_SEEN
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    for prompt, given in PROMPTS_SEEN:
        assert given == prefill
        # TRL tokenizes a text prompt as it is: the model continues the prefill, in an open assistant turn
        assert prompt.endswith(prefill) and not prompt.endswith("<|im_start|>assistant\n")
        ids = tokenizer(text=prompt)["input_ids"]
        assert ids == tokenizer(prompt, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids).endswith(prefill)
    assert load_run(result.run_dir).prefill == prefill
    # the samples and the evaluation during training judge prefill + completion, as the rewards do
    from minir1.rewards import format_rubric

    samples = read_jsonl(result.run_dir / "samples.jsonl")
    assert samples and all(r["prefill"] == prefill for r in samples)
    questions = {p.question for p in load_problems("gsm8k:train", limit=64)}
    assert all(r["question"] in questions for r in samples)  # the question, not the rendered prompt
    for r in samples:
        assert r["rewards"]["format_rubric"] == 13 * format_rubric([prefill + r["completion"]])[0]
    held_out = read_jsonl(result.run_dir / "eval_samples.jsonl")
    assert held_out and all(r.get("prefill") == prefill for r in held_out)


def test_a_users_fields_reach_the_held_out_set_and_disable_tqdm_prints_no_log_dicts(tmp_path, tiny_model, capsys):
    rows = [{"problem": f"What is {a} plus {a}?", "solution": f"{a} + {a} = {2 * a}\n#### {2 * a}"}
            for a in range(1, 9)]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tiny_cfg(tmp_path, tiny_model, data=str(data), eval_data=str(data), question_field="problem",
                   answer_field="solution", max_steps=1, eval_every=1, eval_limit=2, disable_tqdm=True)
    result = train(cfg)
    held_out = read_jsonl(result.run_dir / "eval_samples.jsonl")
    assert [(r["id"], r["gold"]) for r in held_out] == [(f"{data}:{n}", str(2 * n + 2)) for n in (0, 1, 0, 1)]
    assert "{'loss'" not in capsys.readouterr().out  # transformers' printer of every log dict is swapped out too


def test_max_solution_steps_trains_on_the_first_short_problems_only(tmp_path, tiny_model):
    steps = [1, 3, 1, 2, 1]  # lines of worked steps in each problem's solution
    rows = [{"question": f"Problem {n}: what is {n} plus 0?", "answer": f"{n} + 0 = {n}\n" * k + f"#### {n}"}
            for n, k in enumerate(steps)]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = tiny_cfg(tmp_path, tiny_model, data=str(data), max_solution_steps=1, data_limit=2, max_steps=2,
                   sample_every=1, num_samples=8)
    assert [p.id for p in training_problems(cfg)] == [f"{data}:0", f"{data}:2"]
    assert [p.id for p in training_problems(tiny_cfg(tmp_path, tiny_model, data=str(data), data_limit=2))] == [
        f"{data}:0", f"{data}:1"]
    result = train(cfg)
    seen = {r["id"] for r in read_jsonl(result.run_dir / "samples.jsonl")}
    assert seen == {f"{data}:0", f"{data}:2"}  # one step each, the first two such: not 1 (3 steps), not 4 (third)
    assert load_run(result.run_dir).max_solution_steps == 1


def test_score_truncated_false_gives_trl_no_reward_for_cut_completions_only(tmp_path, tiny_model, monkeypatch,
                                                                           caplog):
    calls = []  # (completion ids, rewards given) of every call of every wrapped reward

    class Recording(rewards.UnscoredWhenCut):
        def __call__(self, completions, completion_ids, **kwargs):
            out = super().__call__(completions, completion_ids, **kwargs)
            calls.append((completion_ids, out))
            return out

    monkeypatch.setattr(rewards, "UnscoredWhenCut", Recording)
    # 24 new tokens of a random model: most are cut, a few end (the tiny vocabulary makes <|im_end|> likely enough)
    cfg = tiny_cfg(tmp_path, tiny_model, score_truncated=False, max_steps=3, sample_every=1, num_samples=8,
                   rewards=["format_rubric", SPREAD], reward_weights=[13, 1])
    result = train(cfg)
    tok = AutoTokenizer.from_pretrained(tiny_model)
    stop = {tok.convert_tokens_to_ids("<|im_end|>"), tok.eos_token_id, tok.pad_token_id}
    assert len(calls) == 2 * 3  # two rewards, three steps
    cut = [ids[-1] not in stop for ids, _ in calls for ids in ids]
    assert [r is None for _, out in calls for r in out] == cut
    assert any(cut) and not all(cut)  # both kinds, so the wrapper tells them apart
    assert all(len(ids) == 24 for ids, _ in calls for ids in ids if ids[-1] not in stop)  # cut at the limit
    records = read_jsonl(result.run_dir / "metrics.jsonl")
    for record, (_, out) in zip(records, calls[::2], strict=True):  # what TRL did with them, step by step
        assert record["completions/clipped_ratio"] == pytest.approx(sum(r is None for r in out) / len(out))
        scored = [r for r in out if r is not None]  # format_rubric's fractions
        if not scored:  # TRL's mean over no scored completion: NaN, which it leaves out (and minir1 writes as null)
            assert record.get("reward") is None and record.get("rewards/format_rubric/mean") is None
        else:
            assert record["rewards/format_rubric/mean"] == pytest.approx(sum(scored) / len(scored))
    samples = read_jsonl(result.run_dir / "samples.jsonl")
    recorded = [ids[-1] not in stop for ids, _ in calls[1::2] for ids in ids]  # SPREAD's calls: it records samples
    assert [s.get("unscored", False) for s in samples] == recorded
    assert "All reward functions returned None" not in caplog.text  # TRL's per-row warning, filtered
    assert "without --mask_truncated_completions true they stay in the loss" in caplog.text  # the tiny recipe's
    assert not logging.getLogger("trl.trainer.grpo_trainer").filters  # the filter was this run's only
    assert load_run(result.run_dir).score_truncated is False
    assert "(a cut completion gets no reward)" in (result.run_dir / "final" / "README.md").read_text()


def test_the_bar_draws_only_on_a_terminal_and_not_with_disable_tqdm(monkeypatch):
    from types import SimpleNamespace

    from minir1.callbacks import ProgressBar

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    state = SimpleNamespace(is_world_process_zero=True, global_step=0, max_steps=3)
    for off, draws in ((False, True), (True, False)):
        bar = ProgressBar.for_grpo({"format_rubric": 13.0})
        bar.on_train_begin(SimpleNamespace(disable_tqdm=off), state, None)
        assert (bar.bar is not None) == draws
        bar.on_train_end(SimpleNamespace(disable_tqdm=off), state, None)


def test_warmstart_command_writes_a_loadable_model(tmp_path, tiny_model):
    from transformers import AutoModelForCausalLM

    from minir1.cli import main

    out = tmp_path / "warm"
    assert main(["warmstart", "--model", str(tiny_model), "--limit", "16", "--epochs", "1", "--batch_size", "8",
                 "--output_dir", str(out)]) == 0
    AutoModelForCausalLM.from_pretrained(out)
    assert main(["warmstart", "--model", str(tiny_model), "--limit", "16", "--output_dir", str(out)]) == 2
    assert (out / "minir1-warmstart.json").is_file()  # so --overwrite may replace it
    assert main(["warmstart", "--model", str(tiny_model), "--limit", "8", "--output_dir", str(out), "--overwrite"]) == 0
    AutoModelForCausalLM.from_pretrained(out)


def test_warmstart_overwrite_replaces_only_a_warm_started_model(tmp_path, tiny_model, capsys):
    from minir1.cli import main

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    argv = ["warmstart", "--model", str(tiny_model), "--limit", "4", "--output_dir", str(mine), "--overwrite"]
    assert main(argv) == 2
    assert "not a model minir1 warmstart wrote" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "keep me"
    assert main(["warmstart", "--model", str(tiny_model), "--limit", "4", "--output_dir", str(tmp_path)]) == 2


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


@pytest.mark.slow
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
              "--rewards", "format_rubric", "correctness", SPREAD, "--reward_weights", "13", "10", "1",
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
