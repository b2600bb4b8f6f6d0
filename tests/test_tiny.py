"""The offline tiny model: deterministic, reloadable with the same token ids, with a chat template."""

import filecmp

from minir1.tiny import build_tiny_model, train_tokenizer


def test_same_seed_same_files(tmp_path, tiny_model):
    again = build_tiny_model(tmp_path / "again", seed=0)
    names = sorted(p.name for p in tiny_model.iterdir())
    assert "model.safetensors" in names and "tokenizer.json" in names
    match, mismatch, errors = filecmp.cmpfiles(tiny_model, again, names, shallow=False)
    assert not mismatch and not errors


def test_reloaded_tokenizer_gives_the_same_ids_and_a_chat_template(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(tiny_model)
    text = "<think>\nJanet sells 16 - 3 - 4 = 9 eggs.\n</think>\n<answer>\n18\n</answer> héllo\n\n x"
    assert reloaded(text).input_ids == train_tokenizer()(text).input_ids
    assert reloaded.decode(reloaded(text).input_ids) == text
    prompt = reloaded.apply_chat_template([{"role": "user", "content": "Q"}], tokenize=False,
                                          add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert model.config.model_type == "qwen2" and model.config.tie_word_embeddings


def test_cli_builds_it(tmp_path):
    from minir1.cli import main

    assert main(["tiny-model", str(tmp_path / "t"), "--layers", "1", "--hidden", "32"]) == 0
    import json

    config = json.loads((tmp_path / "t" / "config.json").read_text())
    assert config["num_hidden_layers"] == 1 and config["hidden_size"] == 32
