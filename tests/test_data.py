"""Problems and prompts: the bundled set, local files of every kind, clear errors for bad rows."""

import json

import pytest

from minir1.data import load_problems, prompt_rows
from minir1.errors import UserError
from minir1.prompts import STYLES, build_prompt, format_completion, solution_steps, strip_calculator


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
    assert strip_calculator("16-3=<<16-3=13>>13 eggs") == "16-3=13 eggs"
    assert solution_steps("a <<1+1=2>>2\n#### 2") == "a 2"
    assert format_completion("x", "2", "reasoning") == "<reasoning>\nx\n</reasoning>\n<answer>\n2\n</answer>"


def test_prompt_rows_carry_the_columns_rewards_need():
    rows = prompt_rows(load_problems("gsm8k:test", limit=2), "reasoning")
    assert set(rows[0]) == {"prompt", "answer", "tag_style", "id"}
    assert rows[0]["answer"] == "18" and rows[0]["tag_style"] == "reasoning"
    assert "<<" not in json.dumps(rows)
