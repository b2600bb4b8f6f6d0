"""Problems and prompts: the bundled set, local files of every kind, clear errors for bad rows."""

import json

import pytest

from minir1.data import HUB_TIMEOUT, load_problems, prompt_rows
from minir1.errors import UserError
from minir1.prompts import (
    STYLES,
    build_prompt,
    format_completion,
    open_turn,
    render_prompt,
    solution_steps,
)


def test_bundled_gsm8k_loads_with_ids_and_golds():
    test = load_problems("gsm8k:test")
    assert len(test) == 1319
    assert test[0].id == "gsm8k:test:0" and test[0].answer == "18"
    assert len(load_problems("gsm8k", limit=5)) == 5


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv", ".parquet"])
def test_local_files_of_every_kind(tmp_path, suffix):
    rows = [{"q": "What is 2+3?", "sol": "2+3=5\n#### 5", "id": "a"}, {"q": "Owe 1,000?", "sol": "-1,000", "id": "b"}]
    path = tmp_path / f"data{suffix}"
    if suffix == ".jsonl":
        write_rows(path, rows)
    elif suffix == ".json":
        path.write_text(json.dumps(rows))
    elif suffix == ".csv":
        import csv

        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["q", "sol", "id"])
            w.writeheader()
            w.writerows(rows)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    problems = load_problems(str(path), question_field="q", answer_field="sol")
    assert [(p.id, p.answer) for p in problems] == [("a", "5"), ("b", "-1000")]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="data file not found"):
        load_problems(str(tmp_path / "nope.jsonl"))


def test_row_without_gold_names_file_and_row(tmp_path):
    path = write_rows(tmp_path / "d.jsonl", [{"question": "a", "answer": "#### 1"}, {"question": "b", "answer": "none"}])
    with pytest.raises(UserError, match=r"d.jsonl: row 2 has no parseable gold answer in field 'answer'"):
        load_problems(str(path))


def test_row_without_question_names_file_and_row(tmp_path):
    path = write_rows(tmp_path / "d.jsonl", [{"question": " ", "answer": "1"}])
    with pytest.raises(UserError, match="row 1 has no question in field 'question'"):
        load_problems(str(path))


def test_empty_and_malformed_files(tmp_path):
    (tmp_path / "e.jsonl").write_text("\n")
    with pytest.raises(UserError, match="no rows"):
        load_problems(str(tmp_path / "e.jsonl"))
    (tmp_path / "m.jsonl").write_text('{"question": "a", "answer": 1}\n{oops\n')
    with pytest.raises(UserError, match="line 2 is not valid JSON"):
        load_problems(str(tmp_path / "m.jsonl"))


def test_unknown_source_is_explained():
    with pytest.raises(UserError, match="unknown data source 'gsm9k'"):
        load_problems("gsm9k")


def test_hub_dataset_offline_is_a_one_line_error():
    with pytest.raises(UserError, match="cannot load Hub dataset 'openai/gsm8k:test'") as e:
        load_problems("openai/gsm8k:test")
    assert "\n" not in str(e.value)


def test_prompts_per_style_and_calculator_stripping():
    for name, style in STYLES.items():
        prompt = build_prompt("Q?", name)
        assert [m["role"] for m in prompt] == ["system", "user"]
        assert style.open in prompt[0]["content"] and "<answer>" in prompt[0]["content"]
    assert build_prompt("Q?", "think", system_prompt="S")[0]["content"] == "S"
    assert solution_steps("16-3=<<16-3=13>>13 eggs") == "16-3=13 eggs"
    assert solution_steps("a <<1+1=2>>2\n#### 2") == "a 2"
    assert format_completion("x", "2", "reasoning") == "<reasoning>\nx\n</reasoning>\n<answer>\n2\n</answer>"


def test_prompt_rows_carry_the_columns_rewards_need():
    rows = prompt_rows(load_problems("gsm8k:test", limit=2), "reasoning")
    assert set(rows[0]) == {"prompt", "answer", "tag_style", "prefill", "id", "question"}
    assert rows[0]["answer"] == "18" and rows[0]["tag_style"] == "reasoning" and rows[0]["prefill"] == ""
    assert "<<" not in json.dumps(rows)
    rows = prompt_rows(load_problems("gsm8k:test", limit=2), "think", prefill="<think>\n")
    assert rows[0]["prefill"] == "<think>\n"
    assert rows[0]["prompt"][-1] == {"role": "assistant", "content": "<think>\n"}


def test_build_prompt_appends_the_prefill_and_checks_the_style():
    assert build_prompt("Q?", "think", prefill="<think>\n")[-1] == {"role": "assistant", "content": "<think>\n"}
    assert [m["role"] for m in build_prompt("Q?", prefill="")] == ["system", "user"]
    assert open_turn(build_prompt("Q?", prefill="<think>")) == {"add_generation_prompt": False,
                                                                "continue_final_message": True}
    assert open_turn(build_prompt("Q?")) == {"add_generation_prompt": True, "continue_final_message": False}
    with pytest.raises(UserError, match="unknown tag style 'nope'"):
        build_prompt("Q?", "nope", system_prompt="S")
    with pytest.raises(UserError, match="prefill must be text"):
        build_prompt("Q?", prefill=3)


def chatml_tokenizer():
    """A tokenizer with the tiny model's ChatML template (Qwen2.5's), built without training or network."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    from minir1.tiny import CHAT_TEMPLATE

    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]")))
    tok.chat_template = CHAT_TEMPLATE
    return tok


def test_render_prompt_continues_the_prefill_without_an_end_of_turn():
    tok = chatml_tokenizer()
    plain = render_prompt(tok, build_prompt("What is 2 + 3?"))
    assert plain.endswith("What is 2 + 3?<|im_end|>\n<|im_start|>assistant\n")
    prefilled = render_prompt(tok, build_prompt("What is 2 + 3?", prefill="<think>\n"))
    assert prefilled == plain + "<think>\n"  # the prefill opens the assistant turn, which stays open


def test_number_golds_in_parquet_mean_their_shortest_decimal(tmp_path):
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    from minir1.answers import check

    golds = [19.99, 0.1, 2.5, 1e-05, 3.0, 1e16]
    table = pa.table({"question": [f"q{i}" for i in range(len(golds))], "answer": pa.array(golds, pa.float64()),
                      "exact": pa.array([decimal.Decimal("19.99"), decimal.Decimal("1.5E+3")] + [None] * 4,
                                        pa.decimal128(10, 2))})
    pq.write_table(table, tmp_path / "d.parquet")
    problems = load_problems(str(tmp_path / "d.parquet"))
    assert [p.answer for p in problems] == ["19.99", "0.1", "2.5", "0.00001", "3", "10000000000000000"]
    assert all(check(f"<answer>{repr(g)}</answer>", p.gold).correct for g, p in zip(golds, problems, strict=True))
    exact = load_problems(str(tmp_path / "d.parquet"), answer_field="exact", limit=2)
    assert [p.answer for p in exact] == ["19.99", "1500"]


def test_number_golds_of_any_length_in_json_lines(tmp_path):
    digits = "4" * 10_000
    path = tmp_path / "d.jsonl"
    path.write_text(f'{{"question": "q", "answer": {digits}}}\n{{"question": "r", "answer": 1e400}}\n')
    problems = load_problems(str(path))
    assert problems[0].answer == digits and problems[1].answer == "1" + "0" * 400


def test_bad_bytes_and_bad_golds_name_their_row(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"question": "a", "answer": 1}\n{"question": "\xff", "answer": 2}\n')
    with pytest.raises(UserError, match=r"d.jsonl: line 2 is not valid UTF-8") as e:
        load_problems(str(path))
    assert "\n" not in str(e.value)
    for suffix in (".csv", ".json"):
        (tmp_path / f"d{suffix}").write_bytes(b'question,answer\nq,1\n\xe9t\xe9,2\n')
        with pytest.raises(UserError, match=rf"d\{suffix}: line 3 is not valid UTF-8"):
            load_problems(str(tmp_path / f"d{suffix}"))
    for bad in ('"5/0"', "true", "null", '"1e99999999999"', "[1]"):
        path.write_text(f'{{"question": "a", "answer": 1}}\n{{"question": "b", "answer": {bad}}}\n')
        with pytest.raises(UserError, match=r"row 2 has no parseable gold answer") as e:
            load_problems(str(path))
        assert "\n" not in str(e.value)


def test_hub_dataset_without_network_fails_fast_without_loading(monkeypatch):
    """Not offline by the environment, but the Hub does not answer: one line, and no load_dataset call."""
    import datasets
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    asked = {}

    def no_answer(self, repo_id, **kwargs):
        asked.update(kwargs, repo_id=repo_id)
        raise TimeoutError("timed out")

    def never(*args, **kwargs):
        raise AssertionError("load_dataset must not run when the Hub did not answer")

    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", no_answer)
    monkeypatch.setattr(datasets, "load_dataset", never)
    with pytest.raises(UserError, match=r"cannot load Hub dataset 'openai/gsm8k:test' \(timed out\)") as e:
        load_problems("openai/gsm8k:test")
    assert "\n" not in str(e.value) and "HF_HUB_OFFLINE=1" in str(e.value)
    assert asked == {"repo_id": "openai/gsm8k", "timeout": HUB_TIMEOUT} and HUB_TIMEOUT <= 30


def test_gsm8k_is_known_by_its_bundled_names_and_hub_ids():
    from minir1.data import is_gsm8k

    assert all(map(is_gsm8k, ["gsm8k", "gsm8k:train", "gsm8k:test", "openai/gsm8k", "openai/gsm8k:test"]))
    assert not any(map(is_gsm8k, ["mine.jsonl", "someone/math:test", "data/gsm8k_copy.jsonl"]))


def test_solution_steps_are_counted_and_the_short_ones_kept(tmp_path):
    from minir1.data import at_most_steps, solution_length

    train = load_problems("gsm8k:train")
    lengths = [solution_length(p) for p in train]
    assert (min(lengths), max(lengths)) == (2, 9)  # blank lines and the '#### N' line are not steps
    assert sum(n <= 2 for n in lengths) == len(at_most_steps(train, 2, "gsm8k:train")) == 1961
    rows = [{"question": "one?", "answer": "1 + 0 = 1\n\n#### 1"}, {"question": "none?", "answer": "#### 4"},
            {"question": "three?", "answer": "1 + 1 = 2\n2 + 1 = 3\n3 + 0 = 3\n#### 3"},
            {"question": "two?", "answer": "1 + 1 = <<1+1=2>>2\n2 + 0 = 2\n#### 2"}]
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = load_problems(str(data))
    assert [solution_length(p) for p in problems] == [1, None, 3, 2]  # an answer alone has no steps to count
    problems.pop(1)
    assert [p.question for p in at_most_steps(problems, 2, str(data))] == ["one?", "two?"]
    with pytest.raises(UserError, match=r"no problem's solution has at most 0 steps \(the shortest has 1\): raise "):
        at_most_steps(problems, 0, str(data))
    data.write_text(json.dumps({"question": "fine?", "answer": "1 = 1\n#### 1"}) + "\n"
                    + json.dumps({"question": "bare?", "answer": 7}) + "\n")
    with pytest.raises(UserError, match=f"^{data}: row 2 has no worked steps before '#### answer' for "
                                        "max_solution_steps to count: leave max_solution_steps unset for this data$"):
        at_most_steps(load_problems(str(data)), 2, str(data))
