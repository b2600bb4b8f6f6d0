"""`minir1 eval` and the generation backends, on the tiny offline model and on fake generators.

A random tiny model gets nothing right, so the scoring and summary path is also
tested with fake generators that return known completions.
"""

import json
import shutil
import signal
import subprocess
import sys
import time
import types

import pytest
import yaml

from minir1 import models, runs
from minir1.cli import main
from minir1.data import load_problems
from minir1.errors import UserError
from minir1.evaluate import EvalSettings, evaluate_problems, format_summary, run_eval, summarize
from minir1.generation import Generation, _trim, generate
from minir1.prompts import build_prompt, format_completion
from minir1.rewards import correctness, format_rubric
from minir1.stats import wilson

FAST = ["--max_new_tokens", "16"]


def run_cli(*args: str) -> int:
    return main(["eval", *args])


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def varied_model(tiny_model, tmp_path_factory):
    """The tiny model with its weights shaken: random weights alone repeat one token, which any two runs share."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("varied") / "model"
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(out)
    return out


def make_adapter(base_path, out, hidden_size=None):
    """A LoRA adapter with non-zero B matrices (so it changes outputs), saved to ``out``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    if hidden_size is None:
        model = AutoModelForCausalLM.from_pretrained(base_path)
    else:  # the same architecture at another size: an adapter for a different base model
        config = AutoConfig.from_pretrained(base_path)
        config.hidden_size, config.intermediate_size = hidden_size, 2 * hidden_size
        model = AutoModelForCausalLM.from_config(config)
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 1.0)
    peft_model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    return make_adapter(tiny_model, tmp_path_factory.mktemp("adapter") / "lora")


@pytest.fixture(scope="module")
def run_folder(tiny_model, adapter, tmp_path_factory):
    """What minir1 train leaves: its marker, config.yaml and final/ (the adapter)."""
    run = tmp_path_factory.mktemp("run") / "run"
    run.mkdir()
    runs.mark(run)
    (run / "config.yaml").write_text(yaml.safe_dump({"model": str(tiny_model), "tag_style": "reasoning",
                                                     "system_prompt": "Answer briefly.", "scheme": "grpo-demo"}))
    shutil.copytree(adapter, run / "final")
    return run


# --- end to end on the tiny model ---------------------------------------------------------------


def test_eval_end_to_end_through_the_cli(tiny_model, tmp_path, capsys):
    out = tmp_path / "eval"
    assert run_cli("--model", str(tiny_model), "--limit", "3", *FAST, "--output_dir", str(out)) == 0
    printed = capsys.readouterr().out
    assert "accuracy (strict)" in printed and "95% CI" in printed and "format ok" in printed
    rows = read_jsonl(out / "samples.jsonl")
    assert [r["id"] for r in rows] == ["gsm8k:test:0", "gsm8k:test:1", "gsm8k:test:2"]
    assert rows[0]["gold"] == "18"
    for key in ("question", "completion", "extracted", "correct", "format_ok", "tokens", "truncated"):
        assert key in rows[0]
    assert all(1 <= r["tokens"] <= 16 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    for key in ("n", "accuracy", "lenient_accuracy", "format_rate", "mean_length", "truncation_rate", "ci_low",
                "ci_high", "tokens_per_second", "wall_seconds", "settings"):
        assert key in summary
    assert summary["n"] == 3 and summary["settings"]["model"] == str(tiny_model)
    config = json.loads((out / "eval_config.json").read_text())
    assert config["limit"] == 3 and config["max_new_tokens"] == 16 and config["temperature"] == 0.0


def completions(out):
    return [r["completion"] for r in read_jsonl(out / "samples.jsonl")]


def test_greedy_eval_is_deterministic_and_batch_size_does_not_change_it(varied_model, tmp_path):
    # fp32 on a CPU: left padding is masked and positions come from the mask, so a prompt's greedy
    # completion does not depend on which prompts share its batch
    common = ["--model", str(varied_model), "--limit", "8", *FAST]
    for name, batch in (("a", "8"), ("b", "8"), ("c", "1")):
        assert run_cli(*common, "--batch_size", batch, "--output_dir", str(tmp_path / name)) == 0
    a, b, c = (completions(tmp_path / x) for x in "abc")
    assert len(set(a)) > 1  # the shaken model writes different text for different prompts
    assert a == b == c


def test_resume_after_a_kill_does_every_problem_exactly_once(varied_model, tmp_path):
    common = ["--model", str(varied_model), "--limit", "6", *FAST, "--batch_size", "2"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert run_cli(*common, "--output_dir", str(full)) == 0
    assert run_cli(*common, "--output_dir", str(cut)) == 0
    # as a kill -9 leaves it: two batches written, the third line half-written, no summary yet
    lines = (cut / "samples.jsonl").read_text().splitlines(keepends=True)
    (cut / "samples.jsonl").write_text("".join(lines[:2]) + lines[2][: len(lines[2]) // 2])
    (cut / "summary.json").unlink()
    assert run_cli(*common, "--output_dir", str(cut)) == 0
    rows = read_jsonl(cut / "samples.jsonl")
    assert [r["id"] for r in rows] == [f"gsm8k:test:{i}" for i in range(6)]
    assert completions(cut) == completions(full)
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["n"] == 6 and summary["resumed_problems"] == 2 and summary["generated_problems"] == 4


def test_a_real_kill_9_of_the_console_command_loses_nothing(tiny_model, tmp_path):
    out = tmp_path / "eval"
    args = ["--model", str(tiny_model), "--limit", "60", *FAST, "--output_dir", str(out)]
    # one problem per batch, so the kill lands in the middle of the run
    proc = subprocess.Popen([sys.executable, "-m", "minir1", "eval", *args, "--batch_size", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples = out / "samples.jsonl"
    try:
        while proc.poll() is None and (not samples.exists() or samples.read_text().count("\n") < 3):
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    written = samples.read_text().count("\n")
    assert 3 <= written < 60, "the run was not cut short"
    assert not (out / "summary.json").exists()
    assert run_cli(*args, "--batch_size", "32") == 0  # the batch size is not part of what is evaluated
    rows = read_jsonl(samples)
    assert [r["id"] for r in rows] == [f"gsm8k:test:{i}" for i in range(60)]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 60 and summary["resumed_problems"] >= written - 1  # the last line may be partial


def test_rerunning_a_finished_evaluation_loads_no_model(tiny_model, tmp_path, monkeypatch):
    out = tmp_path / "eval"
    args = ["--model", str(tiny_model), "--limit", "2", *FAST, "--output_dir", str(out)]
    assert run_cli(*args) == 0
    before = json.loads((out / "summary.json").read_text())
    monkeypatch.setattr("minir1.evaluate.load_generator", lambda *a, **k: pytest.fail("model loaded"))
    assert run_cli(*args) == 0
    after = json.loads((out / "summary.json").read_text())
    assert after["n"] == 2 and after["tokens_per_second"] == before["tokens_per_second"]


def test_an_adapter_changes_the_outputs(tiny_model, adapter, tmp_path):
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    assert run_cli("--model", str(tiny_model), "--limit", "2", *FAST, "--output_dir", str(base)) == 0
    assert run_cli("--model", str(tiny_model), "--adapter", str(adapter), "--limit", "2", *FAST,
                   "--output_dir", str(tuned)) == 0
    assert completions(base) != completions(tuned)
    assert json.loads((tuned / "summary.json").read_text())["settings"]["adapter"] == str(adapter)


def test_a_run_folder_supplies_model_adapter_and_prompt_settings(run_folder, tmp_path):
    out = tmp_path / "eval"
    assert run_cli("--adapter", str(run_folder), "--limit", "2", *FAST, "--output_dir", str(out)) == 0
    config = json.loads((out / "eval_config.json").read_text())
    assert config["adapter"] == str(run_folder / "final")
    assert config["tag_style"] == "reasoning" and config["system_prompt"] == "Answer briefly."
    # the command line overrides the run's settings
    out2 = tmp_path / "eval2"
    assert run_cli("--adapter", str(run_folder), "--tag_style", "think", "--limit", "2", *FAST,
                   "--output_dir", str(out2)) == 0
    assert json.loads((out2 / "eval_config.json").read_text())["tag_style"] == "think"
    # a folder with config.yaml and final/ but no run marker is not a run: nothing is read from it
    stray = tmp_path / "stray"
    shutil.copytree(run_folder, stray, ignore=shutil.ignore_patterns(runs.MARKER))
    with pytest.raises(UserError, match="is neither a LoRA adapter .* nor a run folder"):
        models.model_spec(adapter=str(stray))


def test_a_run_trained_with_an_empty_system_prompt_is_evaluated_with_one(run_folder, tmp_path):
    """Training's prompt has an empty system message when the run's system_prompt is '': so has evaluation's."""
    run = tmp_path / "run"
    shutil.copytree(run_folder, run)
    (run / "config.yaml").write_text(yaml.safe_dump({**yaml.safe_load((run / "config.yaml").read_text()),
                                                     "system_prompt": ""}))
    assert EvalSettings(adapter=str(run)).resolve().system_prompt == ""
    assert EvalSettings(adapter=str(run), system_prompt="Be brief.").resolve().system_prompt == "Be brief."


def test_evaluate_problems_on_a_peft_model_in_training_mode(tiny_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model),
                           LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))
    model.train()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    result = evaluate_problems(model, tokenizer, load_problems("gsm8k:test", limit=3), EvalSettings(max_new_tokens=8))
    for key in ("accuracy", "lenient_accuracy", "format_rate", "mean_length", "truncation_rate", "n", "ci_low",
                "ci_high", "tokens_per_second"):
        assert key in result
    assert result["n"] == 3 and (result["ci_low"], result["ci_high"]) == wilson(round(result["accuracy"] * 3), 3)
    assert model.training  # restored for the training loop
    sampled = evaluate_problems(model, tokenizer, load_problems("gsm8k:test", limit=2),
                                EvalSettings(samples=2, temperature=1.0, max_new_tokens=4))
    assert sampled["samples_per_problem"] == 2 and "pass@2" in sampled["pass_at_k"]
    assert sampled["tokens_per_second"] > 0  # counted over every sample


# --- scoring and summary, with known completions --------------------------------------------------


def write_problems(path, answers):
    path.write_text("".join(json.dumps({"id": f"p{i}", "question": f"Question {i}?", "answer": a}) + "\n"
                            for i, a in enumerate(answers)))
    return str(path)


def prefill_of(prompt: list[dict]) -> str | None:
    """The assistant prefill a chat prompt ends with, or None."""
    return prompt[-1]["content"] or None if prompt[-1]["role"] == "assistant" else None


def question(prompt: list[dict]) -> str:
    return next(m["content"] for m in prompt if m["role"] == "user")


def fake_generator(by_question: dict[str, list[str]], calls: list | None = None, fail_after: int | None = None,
                   record_all: bool = False):
    """A generator with the backends' contract that returns known completions, two prompts per batch.

    ``calls`` collects each prompt's question (``record_all``: ``(question, prefill, stop)``).
    """

    def generate_fn(prompts, *, max_new_tokens, batch_size, num_samples, temperature, seed, on_batch, stop):
        results = []
        for start in range(0, len(prompts), 2):
            if fail_after is not None and start >= 2 * fail_after:
                raise KeyboardInterrupt
            batch = prompts[start : start + 2]
            # as the HF backend does: a stop string ends the text just after its first occurrence
            gens = [[Generation(_trim(t, stop), len(_trim(t, stop).split()), t.endswith("..."))
                     for t in by_question[question(p)]] for p in batch]
            assert all(len(g) == num_samples for g in gens)
            if calls is not None:
                calls.extend((question(p), prefill_of(p), stop) if record_all else question(p) for p in batch)
            results.extend(gens)
            on_batch(list(range(start, start + len(batch))), gens)
        return results

    return generate_fn


RIGHT = format_completion("9 * 2 = 18", "18")


def test_right_answers_are_counted_by_the_one_checker(tmp_path):
    data = write_problems(tmp_path / "p.jsonl", ["18", "3", "70,000", "540"])
    fake = fake_generator({
        "Question 0?": [RIGHT],  # right, in format
        "Question 1?": ["<answer>3</answer>"],  # right, format not followed
        "Question 2?": ["It makes 70000 in total..."],  # no answer block: wrong, but the last number is right
        "Question 3?": [format_completion("5 * 100 = 500", "500")],  # wrong
    })
    summary = run_eval(EvalSettings(model="fake", data=data), tmp_path / "out", generator=fake, progress=False)
    assert summary["n"] == 4
    assert summary["accuracy"] == 0.5
    assert (summary["ci_low"], summary["ci_high"]) == wilson(2, 4)
    assert summary["lenient_accuracy"] == 0.75
    assert summary["format_rate"] == 0.5
    assert summary["truncation_rate"] == 0.25
    rows = read_jsonl(tmp_path / "out" / "samples.jsonl")
    assert [r["correct"] for r in rows] == [True, True, False, False]
    assert [r["extracted"] for r in rows] == ["18", "3", None, "500"]
    assert rows[2]["reason"] == "no <answer> block" and rows[2]["lenient_extracted"] == "70000"
    assert [r["format_ok"] for r in rows] == [True, False, False, True]


def test_samples_give_pass_at_k_and_majority_vote(tmp_path):
    data = write_problems(tmp_path / "p.jsonl", ["18", "3"])
    answer = lambda x: format_completion("...", x)  # noqa: E731
    fake = fake_generator({
        "Question 0?": [answer("18"), answer("19"), answer("18"), "no answer"],  # 2 of 4; majority 18: right
        "Question 1?": [answer("4"), answer("4"), answer("3"), answer("5")],  # 1 of 4; majority 4: wrong
    })
    settings = EvalSettings(model="fake", data=data, samples=4, temperature=0.7)
    summary = run_eval(settings, tmp_path / "out", generator=fake, progress=False)
    assert summary["samples_per_problem"] == 4
    assert summary["accuracy"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert summary["pass_at_k"]["pass@1"] == pytest.approx(summary["accuracy"])
    # problem 0: 1 - C(2,2)/C(4,2) = 5/6; problem 1: 1 - C(3,2)/C(4,2) = 1/2
    assert summary["pass_at_k"]["pass@2"] == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert summary["pass_at_k"]["pass@4"] == 1.0
    assert summary["majority_accuracy"] == 0.5
    rows = read_jsonl(tmp_path / "out" / "samples.jsonl")
    assert [r["majority"] for r in rows] == ["18", "4"] and [r["n_correct"] for r in rows] == [2, 1]
    assert len(rows[0]["samples"]) == 4 and rows[0]["samples"][3]["reason"] == "no <answer> block"


def test_an_interrupt_keeps_finished_batches_and_the_rerun_does_only_the_rest(tmp_path):
    data = write_problems(tmp_path / "p.jsonl", ["1", "2", "3", "4", "5"])
    known = {f"Question {i}?": [format_completion("x", str(i + 1))] for i in range(5)}
    settings = EvalSettings(model="fake", data=data)
    with pytest.raises(KeyboardInterrupt):
        run_eval(settings, tmp_path / "out", generator=fake_generator(known, fail_after=1), progress=False)
    assert [r["id"] for r in read_jsonl(tmp_path / "out" / "samples.jsonl")] == ["p0", "p1"]
    assert not (tmp_path / "out" / "summary.json").exists()
    calls = []
    summary = run_eval(settings, tmp_path / "out", generator=fake_generator(known, calls), progress=False)
    assert calls == ["Question 2?", "Question 3?", "Question 4?"]
    assert summary["n"] == 5 and summary["accuracy"] == 1.0


# Completions a training rollout can end with: the reward judges all of it, and so must eval.
TWO_ANSWERS = RIGHT + "\n<answer>\n18\n</answer>"  # a second answer block: no answer, by the one rule
TRAILING = RIGHT + "\nI hope this helps!"  # right, but text after the answer block costs format points
ROLLOUT_ENDINGS = [RIGHT, TWO_ANSWERS, TRAILING, format_completion("x", "17") + "\n<answer>\n18\n</answer>",
                   "<answer>18</answer> and then more"]


def test_eval_verdicts_equal_the_rewards_on_whole_completions(tmp_path):
    data = write_problems(tmp_path / "p.jsonl", ["18"] * len(ROLLOUT_ENDINGS))
    known = {f"Question {i}?": [t] for i, t in enumerate(ROLLOUT_ENDINGS)}
    calls = []
    summary = run_eval(EvalSettings(model="fake", data=data), tmp_path / "full",
                       generator=fake_generator(known, calls, record_all=True), progress=False)
    assert {stop for _, _, stop in calls} == {None}  # by default generated to the end of the turn
    rows = read_jsonl(tmp_path / "full" / "samples.jsonl")
    assert [r["completion"] for r in rows] == ROLLOUT_ENDINGS  # judged whole
    golds = ["18"] * len(ROLLOUT_ENDINGS)
    reward_correct = [x == 1.0 for x in correctness(ROLLOUT_ENDINGS, answer=golds)]
    reward_format = [x == 1.0 for x in format_rubric(ROLLOUT_ENDINGS, tag_style=["think"] * len(golds))]
    assert [r["correct"] for r in rows] == reward_correct == [True, False, True, False, True]
    assert [r["format_ok"] for r in rows] == reward_format == [True, False, False, False, False]
    assert summary["accuracy"] == sum(reward_correct) / len(golds)
    assert summary["format_rate"] == sum(reward_format) / len(golds)
    assert "note" not in summary and summary["settings"]["stop_at_answer"] is False


def test_stop_at_answer_is_an_explicit_option_named_where_it_is_used(tmp_path, capsys):
    data = write_problems(tmp_path / "p.jsonl", ["18"] * len(ROLLOUT_ENDINGS))
    known = {f"Question {i}?": [t] for i, t in enumerate(ROLLOUT_ENDINGS)}
    calls = []
    settings = EvalSettings(model="fake", data=data, stop_at_answer=True)
    summary = run_eval(settings, tmp_path / "cut", generator=fake_generator(known, calls, record_all=True),
                       progress=False)
    assert {stop for _, _, stop in calls} == {"</answer>"}
    rows = read_jsonl(tmp_path / "cut" / "samples.jsonl")
    assert rows[1]["completion"] == RIGHT and rows[1]["correct"] and rows[1]["format_ok"]  # the second block unseen
    # higher than the reward's 3/5 and 1/5 (the test above): what comes after </answer> is never seen
    assert summary["accuracy"] == 0.8 and summary["format_rate"] == 0.8
    assert json.loads((tmp_path / "cut" / "eval_config.json").read_text())["stop_at_answer"] is True
    assert summary["settings"]["stop_at_answer"] is True and "--stop_at_answer" in summary["note"]
    assert json.loads((tmp_path / "cut" / "summary.json").read_text())["note"] == summary["note"]
    assert "--stop_at_answer" in format_summary(summary)
    # a folder evaluated one way is not resumed the other way
    with pytest.raises(UserError, match="stop_at_answer True -> False"):
        run_eval(EvalSettings(model="fake", data=data), tmp_path / "cut", generator=fake_generator(known),
                 progress=False)


def test_a_prefill_ends_the_prompt_and_is_judged_with_the_completion(tmp_path, capsys):
    prefill = "<think>\n"
    rest = [t.removeprefix(prefill) for t in ROLLOUT_ENDINGS]
    data = write_problems(tmp_path / "p.jsonl", ["18"] * len(rest))
    known = {f"Question {i}?": [t] for i, t in enumerate(rest)}
    calls = []
    summary = run_eval(EvalSettings(model="fake", data=data, prefill=prefill), tmp_path / "out",
                       generator=fake_generator(known, calls, record_all=True), progress=False)
    assert {p for _, p, _ in calls} == {prefill}  # every prompt ends with the assistant's prefill
    rows = read_jsonl(tmp_path / "out" / "samples.jsonl")
    assert [(r["prefill"], r["completion"]) for r in rows] == [(prefill, t) for t in rest]
    golds = ["18"] * len(rest)
    # the rewards with the prefill column, and the same texts without a prefill: one verdict
    whole = [prefill + t for t in rest]
    assert [r["correct"] for r in rows] == [x == 1.0 for x in correctness(rest, answer=golds, prefill=prefill)] \
        == [x == 1.0 for x in correctness(whole, answer=golds)] == [True, False, True, False, False]
    assert [r["format_ok"] for r in rows] == [x == 1.0 for x in format_rubric(rest, prefill=[prefill] * 5)] \
        == [x == 1.0 for x in format_rubric(whole)] == [True, False, False, False, False]
    assert json.loads((tmp_path / "out" / "eval_config.json").read_text())["prefill"] == prefill
    assert "prefill '<think>\\n'" in format_summary(summary).splitlines()[0]


def test_the_tiny_model_continues_a_prefill(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    from minir1.generation import encode_chat

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    text = tokenizer.decode(encode_chat(tokenizer, build_prompt("What is 2 + 3?", prefill="<think>\n")))
    assert text.endswith("What is 2 + 3?<|im_end|>\n<|im_start|>assistant\n<think>\n")  # open, not closed
    out = tmp_path / "eval"
    assert run_cli("--model", str(tiny_model), "--limit", "2", *FAST, "--prefill", "<think>\n",
                   "--output_dir", str(out)) == 0
    rows = read_jsonl(out / "samples.jsonl")
    assert all(r["prefill"] == "<think>\n" and not r["completion"].startswith("<think>") for r in rows)
    assert json.loads((out / "eval_config.json").read_text())["prefill"] == "<think>\n"


def test_a_run_folders_prefill_is_the_default_and_can_be_turned_off(run_folder, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(run_folder, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    (run / "config.yaml").write_text(yaml.safe_dump({**config, "prefill": "<reasoning>\n"}))
    calls = []
    data = write_problems(tmp_path / "p.jsonl", ["1"])
    settings = EvalSettings(adapter=str(run), data=data, max_new_tokens=4).resolve()
    assert settings.prefill == "<reasoning>\n"
    run_eval(settings, tmp_path / "a", generator=fake_generator({"Question 0?": ["1"]}, calls, record_all=True),
             progress=False)
    assert calls == [("Question 0?", "<reasoning>\n", None)]
    assert EvalSettings(adapter=str(run), data=data, prefill="").resolve().prefill is None
    assert EvalSettings(adapter=str(run), data=data, prefill="<x>").resolve().prefill == "<x>"


def test_summarize_of_known_records():
    rows = [{"correct": c, "lenient_correct": c, "format_ok": True, "tokens": t, "truncated": t == 32}
            for c, t in ((True, 10), (False, 32), (False, 20))]
    s = summarize(rows)
    assert s["accuracy"] == pytest.approx(1 / 3) and s["mean_length"] == pytest.approx(62 / 3)
    assert s["truncation_rate"] == pytest.approx(1 / 3) and s["format_rate"] == 1.0


# --- bad input: one line, exit status 2, before the model is loaded -----------------------------------


@pytest.fixture
def no_model_load(monkeypatch):
    monkeypatch.setattr("minir1.evaluate.load_generator", lambda *a, **k: pytest.fail("the model was loaded"))


def assert_one_line_error(capsys, *fragments):
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1]  # lines before it can only be progress bars
    assert last.startswith("minir1: error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in last, err


def test_bad_input_errors(tiny_model, tmp_path, capsys, no_model_load):
    out = ["--output_dir", str(tmp_path / "out")]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "q", "answer": "1"}\n{not json\n')
    dup = tmp_path / "dup.jsonl"
    dup.write_text("".join(json.dumps({"id": i, "question": "q", "answer": "1"}) + "\n" for i in "abcb"))
    cases = [
        (["--model", str(tmp_path / "no-model")], ["model not found"]),
        (["--model", str(tiny_model), "--adapter", str(tmp_path / "no-adapter")], ["adapter not found"]),
        (["--model", str(tiny_model), "--data", str(empty)], ["no rows"]),
        (["--model", str(tiny_model), "--data", str(broken)], ["line 2 is not valid JSON"]),
        (["--model", str(tiny_model), "--data", str(tmp_path / "missing.jsonl")], ["data file not found"]),
        (["--model", str(tiny_model), "--data", str(dup)], ["problem id 'b' appears twice"]),
        (["--model", str(tiny_model), "--samples", "2", "--temperature", "0"], ["needs --temperature above 0"]),
        (["--model", str(tiny_model), "--limit", "0"], ["--limit must be at least 1"]),
        (["--model", str(tiny_model), "--batch_size", "0"], ["--batch_size must be at least 1"]),
        (["--model", str(tiny_model), "--dtype", "bogus"], ["unknown --dtype 'bogus'", "float16"]),
        (["--model", str(tiny_model), "--dtype", "int8"], ["unknown --dtype 'int8'"]),
    ]
    for args, fragments in cases:
        assert run_cli(*args, *out) == 2, args
        assert_one_line_error(capsys, *fragments)
        assert not (tmp_path / "out" / "eval_config.json").exists(), args  # nothing written
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    for target, fragment in ((a_file, "is a file"), (a_file / "sub", "which is a file")):
        assert run_cli("--model", str(tiny_model), "--output_dir", str(target)) == 2
        assert_one_line_error(capsys, fragment)
    assert a_file.read_text() == "keep me"


def test_dtype_names_and_aliases(tiny_model, tmp_path):
    # "auto" is resolved and stored: the tiny model is saved in fp32
    for name, canonical in (("fp16", "float16"), ("bf16", "bfloat16"), ("fp32", "float32"), ("auto", "float32")):
        assert EvalSettings(str(tiny_model), dtype=name).resolve().dtype == canonical
    out = tmp_path / "half"
    assert run_cli("--model", str(tiny_model), "--dtype", "fp16", "--limit", "1", "--max_new_tokens", "4",
                   "--output_dir", str(out)) == 0
    assert json.loads((out / "eval_config.json").read_text())["dtype"] == "float16"


@pytest.mark.parametrize("cpu_bf16", [True, False])
def test_auto_dtype_on_a_cpu_follows_the_saved_weights_and_the_cpu(tiny_model, tmp_path, monkeypatch, cpu_bf16):
    """bf16 only for a model saved in bf16 on a CPU with bf16 instructions; the fp32 tiny model stays fp32."""
    import torch
    from transformers import AutoModelForCausalLM

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(models, "cpu_runs_bf16", lambda: cpu_bf16)
    bf16_model = tmp_path / "bf16-model"
    shutil.copytree(tiny_model, bf16_model)  # the tokenizer; then the weights again, in bf16
    AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.bfloat16).save_pretrained(bf16_model)
    assert models.saved_dtype(tiny_model) == "float32" and models.saved_dtype(bf16_model) == "bfloat16"
    assert models.device_and_dtype("auto", tiny_model)[1] == torch.float32
    assert models.device_and_dtype("auto", bf16_model)[1] == (torch.bfloat16 if cpu_bf16 else torch.float32)
    assert models.device_and_dtype("float32", bf16_model)[1] == torch.float32  # an explicit choice wins
    out = tmp_path / "eval"
    assert run_cli("--model", str(bf16_model), "--limit", "1", "--max_new_tokens", "4", "--output_dir", str(out)) == 0
    stored = json.loads((out / "eval_config.json").read_text())["dtype"]
    assert stored == ("bfloat16" if cpu_bf16 else "float32"), "auto is stored as what it chose"
    model, _ = models.load_for_inference(models.model_spec(str(bf16_model)))
    assert str(model.dtype) == f"torch.{stored}", "the model is loaded in the dtype stored"
    # where "auto" chooses otherwise (another CPU), the folder is another evaluation: refused, never mixed
    monkeypatch.setattr(models, "cpu_runs_bf16", lambda: not cpu_bf16)
    assert run_cli("--model", str(bf16_model), "--limit", "1", "--max_new_tokens", "4", "--output_dir", str(out)) == 2


def test_a_recipe_gives_a_base_model_its_prompt(tiny_model, tmp_path, capsys):
    from minir1.config import load_config

    recipe = load_config("mini-r1")
    s = EvalSettings(str(tiny_model)).resolve("mini-r1")
    assert (s.system_prompt, s.tag_style, s.prefill) == (recipe.system_prompt, recipe.style, recipe.prefill)
    assert EvalSettings(str(tiny_model), system_prompt="Be brief.").resolve("mini-r1").system_prompt == "Be brief."
    assert EvalSettings(str(tiny_model)).resolve().system_prompt != recipe.system_prompt
    with pytest.raises(UserError, match="drop one"):
        EvalSettings(adapter=str(tiny_model)).resolve("mini-r1")


def test_an_adapter_for_another_base_model_is_an_error(tiny_model, tmp_path, capsys):
    other = make_adapter(tiny_model, tmp_path / "other", hidden_size=32)
    assert run_cli("--model", str(tiny_model), "--adapter", str(other), "--limit", "1", *FAST,
                   "--output_dir", str(tmp_path / "out")) == 2
    assert_one_line_error(capsys, "does not fit model")
    # nothing was computed, so the same folder takes the corrected command
    assert run_cli("--model", str(tiny_model), "--limit", "1", *FAST, "--output_dir", str(tmp_path / "out")) == 0


def test_a_folder_holding_another_evaluation_is_refused_and_kept(tiny_model, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert run_cli("--model", str(tiny_model), "--limit", "2", *FAST, "--output_dir", str(out)) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    monkeypatch.setattr("minir1.evaluate.load_generator", lambda *a, **k: pytest.fail("the model was loaded"))
    assert run_cli("--model", str(tiny_model), "--limit", "3", *FAST, "--output_dir", str(out)) == 2
    assert_one_line_error(capsys, "holds a different evaluation", "limit 2 -> 3", "another --output_dir")
    assert run_cli("--model", str(tiny_model), "--limit", "2", "--max_new_tokens", "8", "--output_dir",
                   str(out)) == 2
    assert_one_line_error(capsys, "max_new_tokens 16 -> 8")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_folder_from_before_auto_was_stored_resolved_still_resumes(tiny_model, tmp_path):
    """Older eval folders stored dtype "auto", which then meant fp32 on a CPU: they resume as that, not refused."""
    out = tmp_path / "out"
    assert run_cli("--model", str(tiny_model), "--limit", "2", *FAST, "--output_dir", str(out)) == 0
    config = json.loads((out / "eval_config.json").read_text())
    assert config["dtype"] == "float32"
    (out / "eval_config.json").write_text(json.dumps({**config, "dtype": "auto"}))
    (out / "summary.json").unlink()
    kept = (out / "samples.jsonl").read_text().splitlines()[0]
    (out / "samples.jsonl").write_text(kept + "\n")  # one of the two problems done
    assert run_cli("--model", str(tiny_model), "--limit", "2", *FAST, "--output_dir", str(out)) == 0
    assert json.loads((out / "summary.json").read_text())["resumed_problems"] == 1
    assert json.loads((out / "eval_config.json").read_text())["dtype"] == "float32"


def test_a_folder_with_results_but_no_settings_is_refused(tiny_model, tmp_path, capsys, no_model_load):
    out = tmp_path / "out"
    out.mkdir()
    (out / "samples.jsonl").write_text(json.dumps({"id": "gsm8k:test:0", "correct": False}) + "\n")
    assert run_cli("--model", str(tiny_model), "--limit", "2", "--output_dir", str(out)) == 2
    assert_one_line_error(capsys, "is not an evaluation folder of minir1 eval (no eval_config.json)")


@pytest.mark.parametrize("files", [{"notes.txt": "mine"}, {"config.yaml": "a: 1"}, {"summary.json": "{}"},
                                   {"eval_config.json": '{"mine": 1}'}])
def test_eval_never_writes_into_a_folder_it_did_not_write(tiny_model, tmp_path, capsys, no_model_load, files):
    out = tmp_path / "out"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    assert run_cli("--model", str(tiny_model), "--limit", "2", "--output_dir", str(out)) == 2
    assert_one_line_error(capsys, "pass another --output_dir" if "eval_config.json" in files else "choose another")
    assert {p.name: p.read_text() for p in out.iterdir()} == files, "nothing written, nothing changed"


def test_changed_data_under_the_same_name_is_another_evaluation(tmp_path):
    data = write_problems(tmp_path / "p.jsonl", ["1", "2"])
    known = {"Question 0?": ["<answer>1</answer>"], "Question 1?": ["<answer>2</answer>"]}
    settings = EvalSettings(model="fake", data=data)
    run_eval(settings, tmp_path / "out", generator=fake_generator(known), progress=False)
    write_problems(tmp_path / "p.jsonl", ["1", "3"])
    with pytest.raises(UserError, match="the problems in the data changed"):
        run_eval(settings, tmp_path / "out", generator=fake_generator(known), progress=False)


# --- vLLM: optional, wired through a fake module --------------------------------------------------


def test_vllm_missing_is_a_clear_error(tiny_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    assert run_cli("--model", str(tiny_model), "--backend", "vllm", "--output_dir", str(tmp_path / "o")) == 2
    assert_one_line_error(capsys, "pip install 'minir1[vllm]'")


def test_vllm_backend_wiring_with_a_fake_vllm(tiny_model, adapter, tmp_path, monkeypatch):
    seen = {}

    class SamplingParams:
        def __init__(self, **kwargs):
            seen["params"] = kwargs

    class LLM:
        def __init__(self, **kwargs):
            seen["llm"] = kwargs

        def chat(self, conversations, params, use_tqdm=False, lora_request=None, **template):
            seen.setdefault("chunks", []).append(len(conversations))
            seen["lora"], seen["template"] = lora_request, template
            seen["last_messages"] = [c[-1] for c in conversations]
            n = seen["params"]["n"]
            out = types.SimpleNamespace(text=RIGHT, token_ids=[1] * 7, finish_reason="stop")
            return [types.SimpleNamespace(outputs=[out] * n) for _ in conversations]

    class LoRARequest:
        def __init__(self, name, id_, path):
            self.path = path

    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    lora_mod = types.ModuleType("vllm.lora.request")
    lora_mod.LoRARequest = LoRARequest
    for name, mod in (("vllm", vllm), ("vllm.lora", types.ModuleType("vllm.lora")), ("vllm.lora.request", lora_mod)):
        monkeypatch.setitem(sys.modules, name, mod)

    out = tmp_path / "out"
    assert main(["eval", "--model", str(tiny_model), "--adapter", str(adapter), "--backend", "vllm", "--limit", "3",
                 "--samples", "2", "--batch_size", "4", "--output_dir", str(out)]) == 0
    assert seen["llm"]["model"] == str(tiny_model) and seen["llm"]["enable_lora"] is True
    assert seen["lora"].path == str(adapter)
    params = seen["params"]
    assert params["stop"] is None  # to the end of the turn, as training rollouts
    assert params["n"] == 2 and params["temperature"] == 0.7 and params["max_tokens"] == 512
    assert seen["chunks"] == [2, 1]
    assert seen["template"] == {"add_generation_prompt": True, "continue_final_message": False}  # vLLM's default
    rows = read_jsonl(out / "samples.jsonl")
    assert len(rows) == 3 and all(len(r["samples"]) == 2 and r["samples"][0]["tokens"] == 7 for r in rows)
    assert rows[0]["correct"] and not rows[1]["correct"]  # gsm8k:test:0's gold is 18
    # the speed option and a prefill: vLLM stops at </answer> (kept) and continues the assistant's message
    assert main(["eval", "--model", str(tiny_model), "--backend", "vllm", "--limit", "1", "--stop_at_answer",
                 "--prefill", "<think>\n", "--output_dir", str(tmp_path / "out2")]) == 0
    assert seen["params"]["stop"] == ["</answer>"] and seen["params"]["include_stop_str_in_output"] is True
    assert seen["template"] == {"add_generation_prompt": False, "continue_final_message": True}
    assert seen["last_messages"] == [{"role": "assistant", "content": "<think>\n"}]


# --- the HF backend itself ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_model).eval(), AutoTokenizer.from_pretrained(tiny_model)


def test_stop_rule_ends_a_row_at_the_token_that_closes_the_answer(loaded):
    import torch

    from minir1.generation import _stopping_criteria

    model, tokenizer = loaded
    text = RIGHT + "\nand then some more text"
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    stopper = _stopping_criteria(model, tokenizer, "</answer>")(0, 1, "cpu")
    stopped_at = next(t for t in range(1, ids.shape[1] + 1) if stopper(ids[:, :t], None)[0])
    assert "</answer>" in tokenizer.decode(ids[0, :stopped_at])
    assert "</answer>" not in tokenizer.decode(ids[0, : stopped_at - 1])
    assert int(stopper.finished_at[0]) == stopped_at


def test_eos_ends_a_row_and_counts_as_generated(loaded):
    import torch

    from minir1.generation import _stopping_criteria

    model, tokenizer = loaded
    ids = torch.tensor([tokenizer("1 2 3", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]])
    stopper = _stopping_criteria(model, tokenizer, "</answer>")(1, 1, "cpu")
    assert not stopper(ids[:, :-1], None)[0] and stopper(ids, None)[0]
    assert int(stopper.finished_at[0]) == ids.shape[1] - 1


def test_sampling_gives_k_reproducible_samples_and_leaves_the_callers_random_state_alone(loaded):
    import torch

    model, tokenizer = loaded
    prompts = [build_prompt("What is 2 + 3?"), build_prompt("What is 7 * 6?")]
    state = torch.get_rng_state()
    first = generate(model, tokenizer, prompts, max_new_tokens=8, num_samples=3, temperature=1.0, seed=5)
    assert torch.equal(torch.get_rng_state(), state)
    again = generate(model, tokenizer, prompts, max_new_tokens=8, num_samples=3, temperature=1.0, seed=5)
    assert [len(g) for g in first] == [3, 3] and first == again
    assert len({g.text for g in first[0]}) > 1  # sampled, not greedy
    with pytest.raises(UserError, match="temperature above 0"):
        generate(model, tokenizer, prompts, max_new_tokens=8, num_samples=2)


def test_results_come_back_in_prompt_order_whatever_the_batching(loaded):
    model, tokenizer = loaded
    questions = ["Short?", "A much longer question with many more words in it than the others?", "Mid length one?"]
    seen = []
    gens = generate(model, tokenizer, [build_prompt(q) for q in questions], max_new_tokens=4, batch_size=2,
                    on_batch=lambda idx, g: seen.append(idx))
    assert len(gens) == 3 and seen == [[1, 2], [0]]  # longest first
    assert sorted(i for batch in seen for i in batch) == [0, 1, 2]


def test_an_unknown_tag_style_is_refused_before_anything_is_written_even_with_a_system_prompt(tiny_model, tmp_path):
    settings = EvalSettings(model=str(tiny_model), tag_style="bogus", system_prompt="x", limit=1)
    with pytest.raises(UserError, match="unknown tag style 'bogus'"):
        settings.resolve()
    with pytest.raises(UserError, match="unknown tag style 'bogus'"):
        run_eval(settings, tmp_path / "e")
    assert not (tmp_path / "e").exists()
