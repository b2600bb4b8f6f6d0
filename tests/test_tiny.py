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


def one_line_error(capsys, argv, fragment):
    from minir1.cli import main

    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("minir1: error: ") and fragment in err, err


def test_impossible_sizes_are_one_line_errors_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "t"
    for args, fragment in ((["--hidden", "3"], "must be a multiple of 8"), (["--hidden", "0"], "at least 1"),
                           (["--hidden", "12"], "must be a multiple of 8"), (["--layers", "0"], "at least 1"),
                           (["--vocab_size", "10"], "--vocab_size must be at least 259"),
                           (["--seed", "-1"], "--seed must be between")):
        one_line_error(capsys, ["tiny-model", str(out), *args], fragment)
        assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten_unless_it_is_a_tiny_model_and_overwrite_is_given(tmp_path, capsys):
    from minir1.cli import main
    from minir1.tiny import MARKER

    user = tmp_path / "my-model"
    user.mkdir()
    (user / "config.json").write_text('{"mine": true}')
    one_line_error(capsys, ["tiny-model", str(user)], "is not a tiny model built by minir1 (no minir1-tiny.json), "
                                                      "so it is never replaced")
    one_line_error(capsys, ["tiny-model", str(user), "--overwrite"], "is not a tiny model built by minir1")
    assert [p.name for p in user.iterdir()] == ["config.json"] and (user / "config.json").read_text() == '{"mine": true}'
    a_file = tmp_path / "file"
    a_file.write_text("x")
    one_line_error(capsys, ["tiny-model", str(a_file), "--overwrite"], "is a file")

    tiny = tmp_path / "tiny"
    assert main(["tiny-model", str(tiny), "--layers", "1", "--hidden", "16"]) == 0
    assert (tiny / MARKER).is_file()
    capsys.readouterr()  # the build's progress bars
    one_line_error(capsys, ["tiny-model", str(tiny), "--layers", "2"], "pass --overwrite")
    assert main(["tiny-model", str(tiny), "--layers", "2", "--hidden", "16", "--overwrite"]) == 0
    import json

    assert json.loads((tiny / "config.json").read_text())["num_hidden_layers"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "my-model", "tiny"]  # no temporary folder left
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["tiny-model", str(empty), "--layers", "1", "--hidden", "16"]) == 0  # an empty folder is fine
