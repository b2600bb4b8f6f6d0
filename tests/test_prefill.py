"""A prefill never changes a verdict: every judge sees ``prefill + completion`` as one text.

When the chat template (or a recipe) opens the assistant turn with ``<think>\\n``, the
model's completion starts inside the reasoning block. A judge that reads only the
completion then finds no opening tag and scores the format as broken (TRL issue 6966,
open-r1 issue 560). Here the same whole texts are judged twice, once split into
(prefill, completion) and once whole with no prefill, by each place that judges: the
rewards of both schemes (as TRL calls them, with the prefill as a dataset column),
``minir1 score``, and ``minir1 eval`` end to end.
"""

import io
import json

import pytest

from minir1.data import Problem
from minir1.evaluate import EvalSettings, run_eval, verdict
from minir1.generation import Generation
from minir1.prompts import build_prompt, format_completion, render_prompt
from minir1.rewards import SCHEMES, format_rubric, score
from minir1.scoring import score_lines

GOLD = "18"


def corpus(style: str) -> list[str]:
    """Whole replies that start with the style's opening tag: right, wrong, broken, gamed, cut off."""
    right = format_completion("16 - 3 - 4 = 9 eggs, 9 * 2 = 18", GOLD, style)
    open_tag = f"<{style}>\n"
    return [
        right,
        format_completion("9 * 2 = 17", "17", style),
        right + "\nI hope this helps.",  # trailing text after the answer block
        right + "\n<answer>\n19\n</answer>",  # a second answer block
        open_tag + "9 * 2 = 18, so the answer is 18",  # the reasoning block never closed (cut off)
        open_tag + "9 * 2 = 18\n\\boxed{18}",
        open_tag + f"9 * 2 = 18\n</{style}>\n<answer>18 or 19</answer>",  # hedged
        open_tag + f"\n</{style}>\n<answer>\n\n</answer>",  # empty blocks
    ]


def split(whole: str, prefill: str) -> str:
    assert whole.startswith(prefill)
    return whole[len(prefill):]


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_the_rewards_give_the_same_points_split_or_whole(scheme):
    style = SCHEMES[scheme]["style"]
    prefill = f"<{style}>\n"
    wholes = corpus(style)
    rests = [split(w, prefill) for w in wholes]
    weights = SCHEMES[scheme]["rewards"]
    golds = [GOLD] * len(wholes)
    whole_points = score(wholes, golds, weights, tag_style=style)
    # as TRL passes a dataset column (one prefill per completion), and as one string for all
    assert score(rests, golds, weights, tag_style=style, prefill=[prefill] * len(rests)) == whole_points
    assert score(rests, golds, weights, tag_style=style, prefill=prefill) == whole_points
    # chat-format completions (what TRL hands a reward for conversational prompts) too
    chat = [[{"role": "assistant", "content": r}] for r in rests]
    assert score(chat, golds, weights, tag_style=style, prefill=[prefill] * len(chat)) == whole_points
    # the figures are not all alike: the corpus tells right, wrong and broken apart
    assert len({p["total"] for p in whole_points}) >= 3


def test_a_prefilled_think_keeps_full_format_marks():
    """The open-r1 560 failure: the completion alone lacks ``<think>``, and must not score as broken."""
    whole = corpus("think")[0]
    rest = split(whole, "<think>\n")
    assert format_rubric([whole]) == [1.0]
    assert format_rubric([rest]) != [1.0]  # judged alone, the reply has lost its opening tag
    assert format_rubric([rest], prefill=["<think>\n"]) == [1.0]
    points = score([rest], [GOLD], SCHEMES["mini-r1"]["rewards"], prefill="<think>\n")[0]
    assert points["total"] == sum(SCHEMES["mini-r1"]["rewards"].values())  # full marks: 13 + 10


def test_eval_verdicts_are_the_same_split_or_whole():
    problem = Problem(id="p0", question="How many dollars?", solution="#### 18", gold=18)
    for whole in corpus("think"):
        rest = split(whole, "<think>\n")
        a, b = verdict(rest, problem, "think", "<think>\n"), verdict(whole, problem, "think")
        assert a.pop("prefill") == "<think>\n" and a.pop("completion") == rest and b.pop("completion") == whole
        assert a == b


def test_minir1_score_gives_the_same_lines_split_or_whole():
    wholes = corpus("think")
    rests = [split(w, "<think>\n") for w in wholes]

    def scored(rows, **kw):
        out = io.StringIO()
        score_lines((json.dumps(r) for r in rows), out, "mini-r1", **kw)
        return [json.loads(line) for line in out.getvalue().splitlines()]

    expected = scored([{"completion": w, "answer": GOLD} for w in wholes])
    assert scored([{"completion": r, "answer": GOLD, "prefill": "<think>\n"} for r in rests]) == expected
    assert scored([{"completion": r, "answer": GOLD} for r in rests], prefill="<think>\n") == expected
    assert [line["correct"] for line in expected] == [True, False, True, False, False, False, False, False]


def test_minir1_eval_gives_the_same_summary_split_or_whole(tmp_path):
    """Two evaluations of the same replies, one generated after a prefill: equal verdicts and figures."""
    wholes = corpus("think")
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps({"question": f"Question {i}?", "answer": f"#### {GOLD}"}) + "\n"
                            for i in range(len(wholes))))
    by_question = {f"Question {i}?": w for i, w in enumerate(wholes)}

    def generator(prompts, *, on_batch, **kwargs):
        prefill = prompts[0][-1]["content"] if prompts[0][-1]["role"] == "assistant" else ""
        gens = [[Generation(split(by_question[p[1]["content"]], prefill), 5, False)] for p in prompts]
        on_batch(list(range(len(prompts))), gens)
        return gens

    summaries, rows = {}, {}
    for name, prefill in (("whole", None), ("split", "<think>\n")):
        settings = EvalSettings(model="fake", data=str(data), prefill=prefill)
        summaries[name] = run_eval(settings, tmp_path / name, generator=generator, progress=False)
        rows[name] = [json.loads(line) for line in (tmp_path / name / "samples.jsonl").read_text().splitlines()]
    keys = ("correct", "extracted", "reason", "lenient_correct", "lenient_extracted", "format_ok")
    assert [[r[k] for k in keys] for r in rows["split"]] == [[r[k] for k in keys] for r in rows["whole"]]
    assert all(r["prefill"] + r["completion"] == w for r, w in zip(rows["split"], wholes, strict=True))
    figures = ("n", "accuracy", "ci_low", "ci_high", "lenient_accuracy", "format_rate")
    assert {k: summaries["split"][k] for k in figures} == {k: summaries["whole"][k] for k in figures}
    assert 0 < summaries["whole"]["format_rate"] < 1 and 0 < summaries["whole"]["accuracy"] < 1


@pytest.mark.real
def test_the_real_chat_template_ends_the_prompt_with_the_open_prefill(real_model):
    """Qwen2.5's own template: the prompt ends ``<|im_start|>assistant\\n<think>\\n``, the turn left open."""
    from transformers import AutoTokenizer

    from minir1.generation import encode_chat

    tokenizer = AutoTokenizer.from_pretrained(real_model)
    plain = render_prompt(tokenizer, build_prompt("What is 2 + 3?"))
    prefilled = render_prompt(tokenizer, build_prompt("What is 2 + 3?", prefill="<think>\n"))
    assert plain.endswith("<|im_start|>assistant\n")
    assert prefilled == plain + "<think>\n"
    ids = encode_chat(tokenizer, build_prompt("What is 2 + 3?", prefill="<think>\n"))
    assert tokenizer.decode(ids).endswith("<|im_start|>assistant\n<think>\n")
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") not in ids[-4:]
