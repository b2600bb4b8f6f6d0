"""`minir1 export`: a LoRA run merged into a standalone model that plain transformers loads, a full fine-tuning
run copied, and one-line errors for bad input."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from minir1 import runs
from minir1.cli import main
from minir1.config import load_config
from minir1.data import load_problems
from minir1.export import MARKER, export_run
from minir1.models import load_for_inference, model_spec
from minir1.prompts import build_prompt
from minir1.train import train

PROMPTS = 8


def tiny_run(root, tiny_model, **over):
    settings = {"model": str(tiny_model), "output_dir": str(root / "run"), "plot": False, "sample_every": 0,
                "save_steps": 100, "rewards": ["format_rubric", "correctness", "spread_rewards:length_bonus"],
                "reward_weights": [13, 10, 1]}
    return train(load_config("tiny", {**settings, **over})).run_dir


@pytest.fixture(scope="module")
def lora_run(tiny_model, tmp_path_factory):
    # a high learning rate and a reward with spread, so that the adapter changes what the model says
    return tiny_run(tmp_path_factory.mktemp("lora"), tiny_model, max_steps=3, learning_rate=1e-2)


@pytest.fixture(scope="module")
def exported(lora_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "merged"
    assert main(["export", str(lora_run), str(out)]) == 0
    return out


def greedy_ids(model, tokenizer, questions):
    """Greedy token ids with plain transformers: the chat template, generate, nothing from minir1."""
    out = []
    for q in questions:
        enc = tokenizer.apply_chat_template(build_prompt(q), add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=16, do_sample=False)
        out.append(ids[0, enc["input_ids"].shape[1]:].tolist())
    return out


def test_the_merged_model_gives_the_same_greedy_output_as_base_plus_adapter(lora_run, exported, tiny_model):
    questions = [p.question for p in load_problems("gsm8k:test", limit=PROMPTS)]
    peft_model, peft_tokenizer = load_for_inference(model_spec(adapter=str(lora_run)))
    merged = AutoModelForCausalLM.from_pretrained(exported)
    tokenizer = AutoTokenizer.from_pretrained(exported)
    with_adapter = greedy_ids(peft_model, peft_tokenizer, questions)
    from_export = greedy_ids(merged, tokenizer, questions)
    base_only = greedy_ids(AutoModelForCausalLM.from_pretrained(tiny_model), tokenizer, questions)

    agree = sum(a == b for a, b in zip(with_adapter, from_export, strict=True))
    print(f"greedy agreement, merged vs base + adapter: {agree}/{PROMPTS} prompts; the adapter changed "
          f"{sum(a != b for a, b in zip(with_adapter, base_only, strict=True))}/{PROMPTS}")
    assert agree == PROMPTS
    assert with_adapter != base_only, "the adapter must change the outputs, or this test proves nothing"


def test_the_export_is_a_standalone_model_with_its_card(exported, tiny_model):
    names = {p.name for p in exported.iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
            "README.md"} <= names
    assert not names & {"adapter_config.json", "adapter_model.safetensors", "training_args.bin"}
    assert not exported.with_name("merged.partial").exists()
    assert AutoTokenizer.from_pretrained(exported).chat_template, "the chat template travels with the model"
    assert json.loads((exported / "config.json").read_text())["dtype"] == "float32"  # the base model's own dtype
    card = (exported / "README.md").read_text()
    assert f"base_model: {tiny_model}" in card and "library_name: transformers" in card
    assert "A merged model" in card and "| steps | 3 |" in card and "AutoModelForCausalLM" in card


def test_a_full_fine_tuning_run_is_copied_as_it_is(tiny_model, tmp_path):
    run = tiny_run(tmp_path, tiny_model, lora=False, max_steps=1)
    result = export_run(run, tmp_path / "out")
    assert not result.merged
    out = result.out_dir
    assert (out / "model.safetensors").read_bytes() == (run / "final" / "model.safetensors").read_bytes()
    assert not (out / "training_args.bin").exists()
    assert "A fully fine-tuned model" in (out / "README.md").read_text()


def test_overwrite_replaces_an_earlier_export_and_push_uses_push_folder(lora_run, tmp_path, monkeypatch, capsys):
    out = tmp_path / "merged"
    out.mkdir()
    (out / MARKER).write_text("{}")  # what marks an earlier export
    (out / "stale.txt").write_text("from an earlier export")
    assert "pass --overwrite" in error_line(capsys, ["export", str(lora_run), str(out)])
    assert (out / "stale.txt").is_file()
    pushed = []
    monkeypatch.setattr("minir1.report.push_folder",
                        lambda folder, repo, message: pushed.append((folder, repo, message)) or f"https://hf.co/{repo}")
    assert main(["export", str(lora_run), str(out), "--overwrite", "--push_to_hub", "me/tiny-r1"]) == 0
    assert not (out / "stale.txt").exists() and (out / "model.safetensors").is_file()
    assert pushed == [(out, "me/tiny-r1", "minir1 export of run (tiny)")]
    assert "pushed to https://hf.co/me/tiny-r1" in capsys.readouterr().out
    assert json.loads((out / MARKER).read_text())["run"] == str(lora_run.resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["merged"]  # no temporary folder left


def test_overwrite_never_replaces_a_folder_export_did_not_write(lora_run, tiny_model, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in tiny_model.iterdir()}
    mine = tmp_path / "my-model"
    mine.mkdir()
    (mine / "config.json").write_text("{}")
    assert "is not an export of minir1" in error_line(capsys, ["export", str(lora_run), str(mine), "--overwrite"])
    assert [p.name for p in mine.iterdir()] == ["config.json"]
    # the run's base model (tiny_model here), the folder holding it, the run and anything in it: never
    for target in (tiny_model, tiny_model.parent):
        assert "would overwrite the run's base model" in error_line(capsys, ["export", str(lora_run), str(target),
                                                                             "--overwrite"])
    for target in (lora_run, lora_run / "final", lora_run / "exported", lora_run.parent):
        assert "would overwrite the run" in error_line(capsys, ["export", str(lora_run), str(target), "--overwrite"])
    assert {p.name: p.read_bytes() for p in tiny_model.iterdir()} == before
    assert not (lora_run / "exported").exists()


def test_a_failed_merge_leaves_nothing_behind(lora_run, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("minir1.export.merge_adapter", fail)
    with pytest.raises(RuntimeError):
        export_run(lora_run, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def error_line(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_bad_input_is_a_one_line_error(lora_run, tmp_path, capsys):
    assert "is not a minir1 run folder (no .minir1-run" in error_line(capsys, ["export", str(tmp_path),
                                                                             str(tmp_path / "o")])
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.yaml").write_text("model: tiny\n")
    assert "is not a minir1 run folder" in error_line(capsys, ["export", str(unfinished), str(tmp_path / "o")])
    runs.mark(unfinished)
    (unfinished / "config.yaml").write_text("model: tiny\n")
    assert "has no final/ model yet" in error_line(capsys, ["export", str(unfinished), str(tmp_path / "o")])
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "config.json").write_text("{}")  # an existing model folder (an empty folder is simply used)
    assert "is never replaced" in error_line(capsys, ["export", str(lora_run), str(taken)])
    assert "would overwrite the run" in error_line(capsys, ["export", str(lora_run), str(lora_run / "final"),
                                                            "--overwrite"])
