"""``minir1 eval``: accuracy on a problem set, with honest statistics, resumable.

One evaluation is one folder: ``eval_config.json`` holds its settings (:class:`EvalSettings`) and a
fingerprint of the problems, written before anything is generated (a folder holding anything but this
evaluation is refused, never mixed); ``samples.jsonl`` gets one line per problem, flushed after every batch,
so the same command run again does only what is missing; ``summary.json`` is written when all are done.

Evaluation judges what training judges: a completion runs to the end of the turn and all of it, after its
*prefill*, is judged by the rewards' own checks. ``stop_at_answer`` is faster but can only overstate accuracy
and format, so summary.json and the printed table name it. With ``samples`` K > 1, accuracy is pass@1 (the
mean fraction of right samples), a problem's ``correct`` (what ``minir1 compare`` pairs) is its majority vote,
and pass@k is reported for k = 1, 2, 4, ..., K. The 95% interval is Wilson's; for K > 1 it treats each
problem's mean score as one observation in [0, 1], which makes it conservative.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from pathlib import Path

from . import answers
from .data import Problem, load_problems
from .errors import UserError, check_whole
from .folders import check_replaceable
from .generation import Generation
from .jsonl import append, dumps, read_json, read_jsonl, write_atomic, write_json
from .models import ModelSpec, check_dtype, model_spec
from .prompts import STYLES, build_prompt, get_style
from .rewards import DEFAULT_STYLE, format_rubric, get_scheme, texts
from .stats import majority_vote, pass_at_k, wilson

CONFIG, SAMPLES, SUMMARY = "eval_config.json", "samples.jsonl", "summary.json"
BACKENDS = ("hf", "vllm")
STOP_NOTE = ("--stop_at_answer: generation stopped at the first </answer>, so text a model writes after it was "
             "neither generated nor judged (the training reward judges it): accuracy and format ok may be higher "
             "than the reward's")

# the call minir1.generation describes: generate on a loaded model, a VLLMGenerator, or a fake in tests
Generator = Callable[..., list[list[Generation]]]


def _f(default, help: str, **argparse):
    """A settings field with its command-line help (and any other ``add_argument`` keywords)."""
    return field(default=default, metadata={"help": help, **argparse})


@dataclass(frozen=True)
class EvalSettings:
    """How an evaluation is done: two evaluations with equal settings measure the same thing.

    ``minir1 eval``'s options are these fields; the demo, training's periodic evaluation, chat and the
    benchmarks build one too. ``temperature`` applies only when ``samples`` > 1 (it is 0.0 otherwise).
    """

    model: str | None = _f(None, "Hub id, local folder, or 'tiny'; default: the base model of --adapter")
    adapter: str | None = _f(None, "a LoRA adapter folder, or a run folder from minir1 train")
    data: str = _f("gsm8k:test", "gsm8k:test, a local file, or a Hub id[:split]")
    question_field: str = _f("question", "the field of --data that holds the question")
    answer_field: str = _f("answer", "the field of --data that holds the answer")
    limit: int | None = _f(None, "evaluate the first N problems")
    samples: int = _f(1, "K sampled completions per problem (pass@k, majority)")
    temperature: float = _f(0.7, "sampling temperature when --samples > 1")
    max_new_tokens: int = _f(512, "at most this many new tokens per completion")
    tag_style: str | None = _f(None, "default: the run's, else think", choices=list(STYLES))
    system_prompt: str | None = _f(None, "default: the run's, else the tag style's own")
    prefill: str | None = _f(None, "text that opens the assistant turn, e.g. $'<think>\\n' in bash (judged with "
                                   "the reply); default: the run's, else none; '' for none", metavar="TEXT")
    stop_at_answer: bool = _f(False, "end each reply at its first </answer> (faster; by default replies run to the "
                                     "end of the turn, as in training, and all of it is judged)")
    seed: int = _f(0, "sampling seed")
    backend: str = _f("hf", "generation engine", choices=list(BACKENDS))
    dtype: str = _f("auto", "auto (bf16 on a GPU that has it, and on a CPU with bf16 instructions for a model saved "
                            "in bf16; else fp32), float32, bfloat16 or float16 (or fp32, bf16, fp16)")

    def __post_init__(self):
        check_whole("--samples", self.samples)
        if self.samples > 1 and self.temperature <= 0:
            raise UserError(f"--samples {self.samples} needs --temperature above 0 (greedy decoding gives one "
                            "answer)")
        if self.limit is not None:
            check_whole("--limit", self.limit)
        check_whole("--max_new_tokens", self.max_new_tokens)
        if self.backend not in BACKENDS:
            raise UserError(f"unknown backend {self.backend!r}: choose hf or vllm")
        object.__setattr__(self, "dtype", check_dtype(self.dtype))
        if self.samples == 1:
            object.__setattr__(self, "temperature", 0.0)

    def problems(self) -> list[Problem]:
        """The problems these settings name, read with their fields."""
        return load_problems(self.data, question_field=self.question_field, answer_field=self.answer_field,
                             limit=self.limit)

    def resolve(self, recipe: str | None = None) -> EvalSettings:
        """These settings made concrete, checked as far as they can be without loading the model.

        Each prompt setting is the one given, else ``adapter``'s run folder's (which also supplies the base
        model), else the default (``prefill=""``: none). ``recipe`` gives a base model the prompt (and, without
        ``model``, the model) a run of that recipe will use, so "before" and "after" differ only by the
        training. ``dtype`` "auto" is resolved and stored: a folder resumed where "auto" means another dtype is
        refused, never mixed.
        """
        from .models import device_and_dtype, resolve_model

        s = self
        if s.backend == "vllm":
            from .generation import import_vllm

            import_vllm()
        if recipe is None:
            spec = model_spec(s.model, s.adapter)
        elif s.adapter:
            raise UserError("--recipe gives a base model a recipe's prompt settings, and --adapter's run "
                            "folder has its own: drop one of them")
        else:  # the recipe's settings, as a run folder of it would hold them
            from .config import load_config

            cfg = load_config(recipe)
            spec = replace(model_spec(s.model or cfg.model), tag_style=cfg.tag_style, scheme=cfg.scheme,
                           system_prompt=cfg.system_prompt, prefill=cfg.prefill)
        resolved = resolve_model(spec.model)  # a missing model fails here, before anything is written
        dtype = s.dtype
        if s.backend == "hf" and dtype == "auto":
            dtype = str(device_and_dtype("auto", resolved)[1]).removeprefix("torch.")
        style = s.tag_style or spec.tag_style or (get_scheme(spec.scheme)["style"] if spec.scheme else DEFAULT_STYLE)
        own = get_style(style).system_prompt  # an unknown style fails here, even with a system prompt given
        system = next(p for p in (s.system_prompt, spec.system_prompt, own) if p is not None)  # '' as in training
        return replace(s, model=_identity(spec.model), adapter=_identity(spec.adapter) if spec.adapter else None,
                       tag_style=style, system_prompt=system, dtype=dtype,
                       prefill=(s.prefill if s.prefill is not None else spec.prefill) or None)


def _identity(name: str) -> str:
    """A model or adapter name that means the same from any folder: local paths made absolute."""
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name


# --- scoring: pure functions of completions ---------------------------------------------------


def format_ok(text: str, style: str) -> bool:
    """True when a completion follows the prompted tag format: the mini-r1 format rubric at full marks."""
    return format_rubric([text], tag_style=[style])[0] == 1.0


def verdict(completion: str, problem: Problem, style: str, prefill: str | None = None) -> dict:
    """What evaluation records of one completion, judged as the rewards judge ``prefill + completion``."""
    text = texts([completion], prefill)[0]
    v = answers.check(text, problem.gold)
    lenient = answers.lenient_extract(text)
    return {
        **({"prefill": prefill} if prefill else {}),
        "completion": completion,
        "extracted": v.extracted,
        "correct": v.correct,
        "reason": v.reason,
        "lenient_extracted": answers.format_number(lenient) if lenient is not None else None,
        "lenient_correct": answers.lenient_check(text, problem.gold),
        "format_ok": format_ok(text, style),
    }


def make_record(problem: Problem, generations: list[Generation], style: str, prefill: str | None = None) -> dict:
    """The samples.jsonl line of one problem: one generation's verdict at the top level, or K verdicts in
    ``samples`` with ``n_correct``, the ``majority`` answer and its ``correct`` at the top level."""
    record: dict = {"id": problem.id, "question": problem.question, "gold": problem.answer}
    scored = [{**verdict(g.text, problem, style, prefill), "tokens": g.tokens, "truncated": g.truncated}
              for g in generations]
    if len(scored) == 1:
        return {**record, **scored[0]}
    majority = majority_vote([s["extracted"] for s in scored])
    return {**record, "samples": scored, "n_correct": sum(s["correct"] for s in scored), "majority": majority,
            "correct": majority == problem.answer}


def _completions(record: dict) -> list[dict]:
    return record.get("samples", [record])


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def summarize(records: list[dict]) -> dict:
    """Accuracy and its Wilson interval, lenient accuracy, format rate, length and truncation, pass@k."""
    n = len(records)
    k = len(_completions(records[0])) if records else 1
    per_problem = [_mean(c["correct"] for c in _completions(r)) for r in records]
    completions = [c for r in records for c in _completions(r)]
    low, high = wilson(sum(per_problem), n)
    summary = {
        "n": n,
        "samples_per_problem": k,
        "accuracy": _mean(per_problem),
        "ci_low": low,
        "ci_high": high,
        "lenient_accuracy": _mean(c["lenient_correct"] for c in completions),
        "format_rate": _mean(c["format_ok"] for c in completions),
        "mean_length": _mean(c["tokens"] for c in completions),
        "truncation_rate": _mean(c["truncated"] for c in completions),
    }
    if k > 1:  # so there are records
        majority = sum(r["correct"] for r in records)
        m_low, m_high = wilson(majority, n)
        ks = sorted({2**i for i in range(k.bit_length())} | {k})
        summary.update(
            majority_accuracy=majority / n, majority_ci_low=m_low, majority_ci_high=m_high,
            pass_at_k={f"pass@{j}": _mean(pass_at_k(k, r["n_correct"], j) for r in records) for j in ks},
        )
    return summary


# --- generation into records ------------------------------------------------------------------


def _score_into(problems: list[Problem], generator: Generator, s: EvalSettings, batch_size: int | None,
                on_records: Callable[[list[dict]], None]) -> None:
    prompts = [build_prompt(p.question, s.tag_style, s.system_prompt, prefill=s.prefill) for p in problems]

    def on_batch(indices: list[int], generations: list[list[Generation]]) -> None:
        on_records([make_record(problems[i], g, s.tag_style, s.prefill)
                    for i, g in zip(indices, generations, strict=True)])

    generator(prompts, max_new_tokens=s.max_new_tokens, batch_size=batch_size, num_samples=s.samples,
              temperature=s.temperature, seed=s.seed, on_batch=on_batch,
              stop=answers.ANSWER_CLOSE if s.stop_at_answer else None)


def evaluate_problems(model, tokenizer, problems: list[Problem], settings: EvalSettings | None = None, *,
                      batch_size: int | None = None, on_records: Callable[[list[dict]], None] | None = None) -> dict:
    """Evaluation of a loaded model, in memory, generated and judged as ``minir1 eval`` does with ``settings``
    (default: greedy, 256 new tokens; their model, data and backend are not used: this is ``model``): the
    :func:`summarize` figures plus speed. A PEFT model in training mode is switched to eval mode and back;
    ``on_records`` receives the samples.jsonl records in problem order.
    """
    from .generation import generate

    if not problems:
        raise UserError("no problems to evaluate")
    settings = settings or EvalSettings(max_new_tokens=256)
    settings = replace(settings, tag_style=settings.tag_style or DEFAULT_STYLE)
    records: dict[str, dict] = {}
    start = time.perf_counter()
    _score_into(problems, partial(generate, model, tokenizer), settings, batch_size,
                lambda rs: records.update((r["id"], r) for r in rs))
    seconds = time.perf_counter() - start
    summary = summarize([records[p.id] for p in problems])
    if on_records is not None:
        on_records([records[p.id] for p in problems])
    tokens = sum(c["tokens"] for r in records.values() for c in _completions(r))
    return {**summary, "seconds": seconds, "tokens_per_second": tokens / seconds if seconds > 0 else 0.0}


# --- the output folder ------------------------------------------------------------------------


def fingerprint(problems: list[Problem]) -> str:
    """SHA-256 over the problems' ids, questions and golds: a changed data file is a different evaluation."""
    text = "".join(json.dumps([p.id, p.question, p.answer]) for p in problems)
    return hashlib.sha256(text.encode()).hexdigest()


def read_samples(path: Path) -> list[dict]:
    """The complete records in a samples.jsonl; a line cut short by a kill (or otherwise unreadable) is skipped."""
    return [r for r in read_jsonl(path) if "id" in r and "correct" in r]


def _differences(old: dict, new: dict) -> str:
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if "problems_sha256" in keys:  # a hash says nothing to a reader: name it only when nothing else differs
        keys.remove("problems_sha256")
        if not keys:
            return "the problems in the data changed"
    shown = [f"{k} {str(old.get(k))[:40]} -> {str(new.get(k))[:40]}" for k in keys[:3]]
    return ", ".join(shown) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def check_output_dir(out: Path) -> None:
    """A one-line UserError unless ``out`` is new, empty, or an evaluation folder (folders.py's one rule)."""
    check_replaceable(out, CONFIG, True, "an evaluation folder of minir1 eval")


def _comparable(config: dict) -> dict:
    """Settings as compared on resume: an unresolved "auto" (written before resolve() resolved it, or built
    by hand) means what it meant then, the rule with no model to read: bf16 on a GPU that has it, else fp32."""
    if config.get("dtype") != "auto" or config.get("backend", "hf") != "hf":
        return config
    from .models import device_and_dtype

    return {**config, "dtype": str(device_and_dtype("auto")[1]).removeprefix("torch.")}


def prepare_output(out: Path, config: dict, problems: list[Problem]) -> dict[str, dict]:
    """Check ``out`` can hold this evaluation, record its settings, and return the records already done.

    The records kept are rewritten (each problem once, partial lines dropped) so that new lines append cleanly.
    """
    check_output_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    records = read_samples(out / SAMPLES)
    config_path = out / CONFIG
    if config_path.is_file():
        old = read_json(config_path, ": pass another --output_dir")
        if not isinstance(old, dict) or not {"model", "data", "max_new_tokens"} <= set(old):
            raise UserError(f"{config_path} is not the settings file of an evaluation by minir1 eval, so {out} is "
                            "never written into: pass another --output_dir")
        old, new = _comparable(old), _comparable(config)
        if old != new and records:
            raise UserError(f"{out} holds a different evaluation ({_differences(old, new)}): "
                            "pass another --output_dir")
    # nothing computed under other settings (e.g. their model failed to load): these settings replace them
    write_json(config_path, config)
    ids = {p.id for p in problems}
    done = {r["id"]: r for r in reversed(records) if r["id"] in ids}  # reversed: a problem's first record wins
    write_atomic(out / SAMPLES, dumps([done[p.id] for p in problems if p.id in done]))
    return done


def load_generator(settings: EvalSettings, *, trust_remote_code: bool = False) -> Generator:
    from .generation import VLLMGenerator, generate
    from .models import load_for_inference, resolve_model

    if settings.backend == "vllm":
        return VLLMGenerator(resolve_model(settings.model), adapter=settings.adapter, dtype=settings.dtype,
                             seed=settings.seed, trust_remote_code=trust_remote_code)
    model, tokenizer = load_for_inference(ModelSpec(settings.model, settings.adapter), settings.dtype,
                                          trust_remote_code)
    return partial(generate, model, tokenizer)


def run_eval(settings: EvalSettings, output_dir: str | os.PathLike, *, batch_size: int | None = None,
             trust_remote_code: bool = False, progress: bool = True, generator: Generator | None = None) -> dict:
    """Evaluate into ``output_dir`` (resuming what is there) and return the summary (also in summary.json).

    ``generator`` replaces the model (tests pass a fake); otherwise the model is loaded only when
    something is left to generate, after bad data or a mismatched folder would have raised a UserError.
    """
    from tqdm.auto import tqdm

    if batch_size is not None:
        check_whole("--batch_size", batch_size)
    if settings.model is None:
        raise UserError("no model in the evaluation settings: pass model, or an adapter and call .resolve()")
    if settings.tag_style is None:  # built without resolve(): the default style, written out
        settings = replace(settings, tag_style=DEFAULT_STYLE)
    get_style(settings.tag_style)  # an unknown style fails here, before anything is written
    started = time.perf_counter()
    problems = settings.problems()
    twice = [i for i, n in Counter(p.id for p in problems).items() if n > 1]
    if twice:
        raise UserError(f"{settings.data}: problem id {twice[0]!r} appears twice; ids must be unique to resume and "
                        "compare")
    out = Path(output_dir)
    config = {**asdict(settings), "problems": len(problems), "problems_sha256": fingerprint(problems)}
    done = prepare_output(out, config, problems)
    resumed = len(done)
    todo = [p for p in problems if p.id not in done]

    if todo:
        (out / SUMMARY).unlink(missing_ok=True)  # summary.json present means finished: minir1 compare relies on it
        generator = generator or load_generator(settings, trust_remote_code=trust_remote_code)
        bar = tqdm(total=len(problems), initial=resumed, desc="eval", unit="problem", disable=not progress)
        start = time.perf_counter()
        with bar:

            def save(records: list[dict]) -> None:
                append(out / SAMPLES, records)  # a kill now loses at most the batch being generated
                done.update((r["id"], r) for r in records)
                bar.update(len(records))

            _score_into(todo, generator, settings, batch_size, save)
        seconds = time.perf_counter() - start
        tokens = sum(c["tokens"] for p in todo if p.id in done for c in _completions(done[p.id]))
        timing = {"generated_problems": len(todo), "generated_tokens": tokens, "generation_seconds": seconds,
                  "tokens_per_second": tokens / seconds if seconds > 0 else 0.0,
                  "wall_seconds": time.perf_counter() - started}
    else:  # already finished: keep the timing of the run that generated
        old = read_json(out / SUMMARY)  # {} when killed between its last batch and its summary
        timing = {k: old[k] for k in ("generated_problems", "generated_tokens", "generation_seconds",
                                      "tokens_per_second", "wall_seconds") if k in old}

    missing = [p.id for p in problems if p.id not in done]
    if missing:  # a generator that skipped problems is a bug, not something to summarise over
        raise RuntimeError(f"{len(missing)} problems got no completion, e.g. {missing[0]}")
    records = [done[p.id] for p in problems]
    write_atomic(out / SAMPLES, dumps(records))
    summary = {**summarize(records), "resumed_problems": resumed, **timing, "settings": asdict(settings)}
    if settings.stop_at_answer:
        summary["note"] = STOP_NOTE
    write_json(out / SUMMARY, summary)
    return summary


def pct(x: float) -> str:
    """A fraction as a percentage with one decimal: ``0.125`` is ``"12.5%"``."""
    return f"{100 * x:.1f}%"


def format_summary(summary: dict, output_dir: str | os.PathLike | None = None) -> str:
    """The short table ``minir1 eval`` prints."""
    s = summary["settings"]
    what = s["model"] + (f" + {s['adapter']}" if s["adapter"] else "")
    k = summary["samples_per_problem"]
    decoding = "greedy" if k == 1 else f"{k} samples at temperature {s['temperature']}"
    prefill = f", prefill {s['prefill']!r}" if s.get("prefill") else ""
    lines = [
        f"{what} on {s['data']} ({summary['n']} problems, {decoding}, tag style {s['tag_style']}{prefill})",
        f"  accuracy (strict)   {pct(summary['accuracy']):>7}   95% CI {pct(summary['ci_low'])} - "
        f"{pct(summary['ci_high'])} (Wilson)",
        f"  accuracy (lenient)  {pct(summary['lenient_accuracy']):>7}   last number anywhere (diagnostic)",
        f"  format ok           {pct(summary['format_rate']):>7}",
        f"  truncated           {pct(summary['truncation_rate']):>7}   at {s['max_new_tokens']} new tokens",
        f"  mean length         {summary['mean_length']:7.1f}   tokens",
    ]
    if k > 1:
        lines.append(f"  majority vote       {pct(summary['majority_accuracy']):>7}   95% CI "
                     f"{pct(summary['majority_ci_low'])} - {pct(summary['majority_ci_high'])}")
        lines.extend(f"  {name:<19} {pct(v):>7}" for name, v in summary["pass_at_k"].items())
    if "tokens_per_second" in summary:
        lines.append(f"  speed               {summary['tokens_per_second']:7.0f}   generated tokens/s "
                     f"({summary['generated_problems']} problems in {summary['generation_seconds']:.1f} s)")
    if summary.get("resumed_problems"):
        lines.append(f"  resumed             {summary['resumed_problems']} problems were done by an earlier run")
    if s.get("stop_at_answer"):
        lines.append(f"  note                {STOP_NOTE}")
    if output_dir is not None:
        lines.append(f"results: {Path(output_dir) / SAMPLES}, {Path(output_dir) / SUMMARY}")
    return "\n".join(lines)


def cli_eval(args) -> int:
    check_output_dir(Path(args.output_dir))
    settings = EvalSettings(**{f.name: getattr(args, f.name) for f in fields(EvalSettings)}).resolve(args.recipe)
    try:
        summary = run_eval(settings, args.output_dir, batch_size=args.batch_size,
                           trust_remote_code=args.trust_remote_code)
    except KeyboardInterrupt:
        print(f"minir1 eval: interrupted; finished problems are saved in {Path(args.output_dir) / SAMPLES}: "
              "run the same command again to do the rest", file=sys.stderr)
        return 130
    print(format_summary(summary, args.output_dir))
    return 0
