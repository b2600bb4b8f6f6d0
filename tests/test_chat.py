"""`minir1 chat`: streaming a reply on the tiny model, and the verdict line."""

import io

import pytest
import yaml

from minir1 import runs
from minir1.chat import chat, verdict_line
from minir1.cli import main
from minir1.generation import Generation, generate
from minir1.prompts import build_prompt, format_completion


@pytest.fixture(scope="module")
def loaded(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_model), AutoTokenizer.from_pretrained(tiny_model)


def test_chat_answers_a_question_given_on_the_command_line(tiny_model, capsys):
    assert main(["chat", "--model", str(tiny_model), "--max_new_tokens", "12", "What is 2 + 3?"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == "[no answer: no <answer> block (format not followed, cut off at 12 tokens)]"


def test_streamed_text_is_the_reply_and_matches_evaluation(loaded):
    model, tokenizer = loaded
    out = io.StringIO()
    result = chat(model, tokenizer, "What is 2 + 3?", max_new_tokens=12, out=out)
    assert out.getvalue() == result["completion"] + "\n" + verdict_line(result) + "\n"
    # chat and eval share prompt, decoding and stop rule, so greedy gives the same reply
    [[gen]] = generate(model, tokenizer, [build_prompt("What is 2 + 3?")], max_new_tokens=12)
    assert (gen.text, gen.tokens, gen.truncated) == (result["completion"], result["tokens"], result["truncated"])


def test_a_well_formed_reply_is_reported_with_its_answer(loaded, monkeypatch):
    model, tokenizer = loaded
    reply = format_completion("9 * 2 = 18", "$18")

    def fake_stream(model, tokenizer, messages, *, on_text, **kwargs):
        for piece in (reply[:10], reply[10:]):
            on_text(piece)
        return Generation(reply, 20, False)

    monkeypatch.setattr("minir1.generation.stream", fake_stream)
    out = io.StringIO()
    result = chat(model, tokenizer, "Eggs?", out=out)
    assert result["extracted"] == "18" and result["well_formed"] and not result["format_ok"]  # '$18' is not bare
    assert out.getvalue().endswith("[answer: 18 (well-formed answer block, format not followed)]\n")
    assert verdict_line({"well_formed": False, "reason": "more than one <answer> block", "format_ok": False,
                         "truncated": False, "tokens": 9}) == \
        "[no answer: more than one <answer> block (format not followed)]"


def test_interactive_mode_reads_questions_until_an_empty_line(tiny_model, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("What is 2 + 3?\nWhat is 7 * 6?\n\nnever asked\n"))
    assert main(["chat", "--model", str(tiny_model), "--max_new_tokens", "6"]) == 0
    assert capsys.readouterr().out.count("[no answer:") == 2


def test_interactive_mode_ends_at_eof(tiny_model, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("What is 2 + 3?\n"))
    assert main(["chat", "--model", str(tiny_model), "--max_new_tokens", "6"]) == 0
    assert capsys.readouterr().out.count("[no answer:") == 1


def test_chat_takes_a_run_folders_prompt_settings(tiny_model, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    (run / "final").mkdir(parents=True)
    runs.mark(run)
    (run / "config.yaml").write_text(yaml.safe_dump({"model": str(tiny_model), "tag_style": "reasoning",
                                                     "system_prompt": "Answer briefly."}))
    # a fully fine-tuned run: final/ is a whole model
    for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                 "tokenizer_config.json", "chat_template.jinja"):
        if (tiny_model / name).exists():
            (run / "final" / name).write_bytes((tiny_model / name).read_bytes())
    seen = {}

    def fake_chat(model, tokenizer, question, **settings):
        seen.update(settings)

    monkeypatch.setattr("minir1.chat.chat", fake_chat)
    assert main(["chat", "--adapter", str(run), "Why?"]) == 0
    assert seen["style"] == "reasoning" and seen["system_prompt"] == "Answer briefly."
    assert seen["prefill"] is None and seen["stop_at_answer"] is False  # as training generates
    config = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**config, "prefill": "<reasoning>\n"}))
    assert main(["chat", "--adapter", str(run), "Why?"]) == 0
    assert seen["prefill"] == "<reasoning>\n"
    assert main(["chat", "--adapter", str(run), "--prefill", "", "--stop_at_answer", "Why?"]) == 0
    assert seen["prefill"] is None and seen["stop_at_answer"] is True


def test_a_prefill_is_shown_first_and_judged_with_the_reply(loaded, monkeypatch):
    model, tokenizer = loaded
    rest = "9 * 2 = 18\n</think>\n<answer>\n18\n</answer>\nDone."  # trailing text: format not followed
    seen = {}

    def fake_stream(model, tokenizer, messages, *, on_text, stop=None, **kwargs):
        seen.update(messages=messages, stop=stop)
        on_text(rest)
        return Generation(rest, 20, False)

    monkeypatch.setattr("minir1.generation.stream", fake_stream)
    out = io.StringIO()
    result = chat(model, tokenizer, "Eggs?", prefill="<think>\n", out=out)
    assert seen["messages"][-1] == {"role": "assistant", "content": "<think>\n"} and seen["stop"] is None
    assert out.getvalue().startswith("<think>\n9 * 2 = 18")
    assert result["prefill"] == "<think>\n" and result["completion"] == rest
    assert result["extracted"] == "18" and not result["format_ok"]  # judged on prefill + reply, trailing text seen
    chat(model, tokenizer, "Eggs?", stop_at_answer=True, out=io.StringIO())
    assert seen["stop"] == "</answer>"


def assert_one_line_error(capsys, fragment):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("minir1: error: ") and fragment in err, err


def test_chat_bad_input(tmp_path, capsys, monkeypatch):
    assert main(["chat", "--model", str(tmp_path / "nothing"), "hi"]) == 2
    assert "model not found" in capsys.readouterr().err
    assert main(["chat", "--model", "tiny", "--temperature", "-1", "hi"]) == 2
    assert "--temperature must be 0" in capsys.readouterr().err
    monkeypatch.setattr("minir1.models.load_for_inference", lambda *a, **k: pytest.fail("the model was loaded"))
    for dtype in ("bogus", "int8"):
        assert main(["chat", "--model", "tiny", "--dtype", dtype, "hi"]) == 2
        assert_one_line_error(capsys, f"unknown --dtype {dtype!r}")
    for empty in ("", "   "):  # an empty question is a mistake, not a request for interactive mode
        monkeypatch.setattr("sys.stdin", io.StringIO("never read\n"))
        assert main(["chat", "--model", "tiny", empty]) == 2
        assert_one_line_error(capsys, "the question is empty")
