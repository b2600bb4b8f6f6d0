"""Experiment trackers and the Hub, offline: report_to reaches TRL, TensorBoard gets the reward curves, the model
card says what was trained, and pushes go through report.push_folder (with a fake HfApi: no network)."""

from pathlib import Path

import pytest

from minir1.config import load_config
from minir1.errors import UserError
from minir1.jsonl import read_jsonl
from minir1.machine import validate
from minir1.report import model_card, push_folder
from minir1.train import train


@pytest.mark.parametrize("trackers", ["tensorboard", "wandb", "trackio", "none", ["tensorboard", "wandb"]])
def test_report_to_reaches_trl_unchanged(trackers, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec  # the trackers' packages faked present: only the wiring is under test
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name in ("wandb", "trackio")
                        else real(name, *a))
    args = validate(load_config("tiny", {"report_to": trackers}))
    expected = [trackers] if isinstance(trackers, str) else trackers
    assert args.report_to == ([] if expected == ["none"] else expected)


def test_tensorboard_gets_one_reward_value_per_step(tmp_path, tiny_model):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = load_config("tiny", {"model": str(tiny_model), "output_dir": str(tmp_path / "run"), "plot": False,
                               "report_to": "tensorboard", "sample_every": 0, "save_steps": 100})
    run = train(cfg).run_dir
    [events] = {p.parent for p in run.rglob("events.out.tfevents.*")}
    acc = EventAccumulator(str(events))
    acc.Reload()
    metrics = {r["step"]: r for r in read_jsonl(run / "metrics.jsonl")}
    for tag in ("train/reward", "train/rewards/correctness/mean", "train/rewards/format_rubric/mean",
                "train/completions/mean_length"):
        scalars = acc.Scalars(tag)
        assert [s.step for s in scalars] == [1, 2, 3, 4], tag
        key = tag.removeprefix("train/")
        assert [s.value for s in scalars] == pytest.approx([metrics[s.step][key] for s in scalars]), tag


CFG = {"model": "Qwen/Qwen2.5-0.5B-Instruct", "recipe": "mini-r1", "data": "gsm8k:train", "data_limit": 2000}
SUMMARY = {"steps": 250, "final_rewards": {"format_rubric": {"mean": 0.9, "points": 11.7, "of": 13.0},
                                           "correctness": {"mean": 0.4, "points": 4.0, "of": 10.0},
                                           "total": {"points": 15.7, "of": 23.0}},
           "final_rewards_over_steps": [241, 250],
           "last_eval": {"step": 200, "eval/accuracy": 0.375, "eval/n": 64}}


def test_the_model_card_of_an_adapter_says_what_was_trained_and_how_well():
    card = model_card(load_config("mini-r1", CFG), SUMMARY)
    assert card.startswith("---\nbase_model: Qwen/Qwen2.5-0.5B-Instruct\nlibrary_name: peft\n")
    assert "datasets:\n  - openai/gsm8k\n" in card
    for row in ("| base model | `Qwen/Qwen2.5-0.5B-Instruct` |", "| recipe | `mini-r1` |",
                "| data | `gsm8k:train` (first 2000) |", "| tag style | `think` |",
                "| rewards | `format_rubric` (13 points), `correctness` (10 points) |", "| steps | 250 |",
                "| LoRA | rank 16, alpha 32, targets `all-linear` |",
                "## Final training rewards (mean over steps 241–250)", "| format_rubric | 11.70 of 13 |",
                "| correctness | 4.00 of 10 |", "| total | 15.70 of 23 |",
                "Accuracy 37.5% on 64 problems", "AutoPeftModelForCausalLM"):
        assert row in card, row


def test_the_card_of_an_export_shows_the_evaluation_passed_in():
    evaluation = {"accuracy": 0.42, "ci_low": 0.39, "ci_high": 0.45, "n": 1319}
    card = model_card(load_config("mini-r1", CFG), SUMMARY, evaluation, merged=True)
    assert "library_name: transformers" in card and "A merged model" in card
    assert "Accuracy 42.0% (95% interval 39.0–45.0%) on 1319 problems" in card
    assert "AutoModelForCausalLM.from_pretrained" in card and "AutoPeftModelForCausalLM" not in card
    full = model_card(load_config("grpo-demo", {"recipe": "grpo-demo"}), {"steps": 10})
    assert "A fully fine-tuned model" in full and "## Evaluation" not in full and "| LoRA |" not in full


class FakeHfApi:
    """Records what would be sent to the Hub; ``fail`` makes the upload raise like a 401 does."""

    calls: list = []
    fail: Exception | None = None

    def create_repo(self, repo_id, exist_ok=False, **kwargs):
        self.calls.append(("create_repo", repo_id, exist_ok))

    def upload_folder(self, folder_path, repo_id, commit_message, **kwargs):
        if self.fail:
            raise self.fail
        files = sorted(p.name for p in Path(folder_path).iterdir())
        self.calls.append(("upload_folder", folder_path, repo_id, commit_message, files))


@pytest.fixture
def hub(monkeypatch):
    monkeypatch.setattr("huggingface_hub.HfApi", FakeHfApi)
    FakeHfApi.calls, FakeHfApi.fail = [], None
    return FakeHfApi


def test_push_folder_creates_the_repo_and_uploads_the_folder(hub, tmp_path):
    (tmp_path / "README.md").write_text("card")
    assert push_folder(tmp_path, "me/tiny-r1", "minir1: 4 steps") == "https://huggingface.co/me/tiny-r1"
    assert hub.calls == [("create_repo", "me/tiny-r1", True),
                         ("upload_folder", str(tmp_path), "me/tiny-r1", "minir1: 4 steps", ["README.md"])]


def test_a_failed_upload_is_one_line_that_says_the_folder_is_saved(hub, tmp_path):
    hub.fail = RuntimeError("401 Client Error: Unauthorized for url\nInvalid credentials in Authorization header")
    with pytest.raises(UserError) as e:
        push_folder(tmp_path, "me/tiny-r1", "minir1: 4 steps")
    message = str(e.value)
    assert "\n" not in message and "401 Client Error" in message and "hf auth login" in message
    assert message.endswith(f"{tmp_path} is saved locally")


def test_training_pushes_the_final_folder_with_its_card_and_nothing_else(hub, tmp_path, tiny_model):
    cfg = load_config("tiny", {"model": str(tiny_model), "output_dir": str(tmp_path / "run"), "plot": False,
                               "max_steps": 2, "save_steps": 1, "push_final_to": "me/tiny-r1"})
    train(cfg)
    # one repository, one upload: the final adapter with its card, not TRL's checkpoint pushes
    assert [c[:4] for c in hub.calls] == [("create_repo", "me/tiny-r1", True),
                                          ("upload_folder", str(tmp_path / "run" / "final"), "me/tiny-r1",
                                           "minir1 tiny: 2 steps")]
    assert {"README.md", "adapter_config.json", "adapter_model.safetensors"} <= set(hub.calls[1][4])
