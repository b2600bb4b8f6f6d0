"""What minir1 adds around TRL's training loop, as ``TrainerCallback``s (never by subclassing); :class:`SampleRecorder`
wraps a reward function instead, as TRL hands completions only to rewards. Only the main process writes files."""

from __future__ import annotations

import logging
import math
import signal
import sys
import time
from collections import deque
from pathlib import Path

from accelerate.utils import gather_object
from tqdm.auto import tqdm
from transformers import PrinterCallback, ProgressCallback, TrainerCallback

from .evaluate import evaluate_problems
from .jsonl import append, read_jsonl, truncate_after
from .machine import is_main_process
from .rewards import CORRECTNESS, REWARDS, UnscoredWhenCut, completion_text, reward_key, score
from .runs import EVAL_SAMPLES, METRICS, SAMPLES

log = logging.getLogger("minir1")


def mean_of(records: list[dict], key: str) -> float | None:
    """The mean of ``key`` over the records with a finite number there (None when none has)."""
    values = [r[key] for r in records if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return sum(values) / len(values) if values else None


class HealthMonitor:
    """Plain-language warnings from recent steps' metric records: truncated completions, groups with no reward
    spread, format saturated while correctness stays flat. :meth:`update` takes one record per logged step and
    returns the warnings that fire at it, each at most once per ``window`` steps. ``reward_points`` are the run's
    (metric key: weight); every reward not in :data:`minir1.rewards.CORRECTNESS` counts as format, and the first
    one in it is the run's correctness."""

    SHORT = 3  # steps averaged for the fast warnings (truncation, no spread)

    def __init__(self, window: int = 20, max_completion_length: int | None = None,
                 reward_points: dict[str, float] | None = None):
        self.window = window
        self.max_completion_length = max_completion_length
        self.format_rewards = {k: w for k, w in (reward_points or {}).items() if k not in CORRECTNESS}
        self.correctness = next((k for k in (reward_points or {}) if k in CORRECTNESS), "correctness")
        self.history: deque[dict] = deque(maxlen=2 * window)
        self._last_fired: dict[str, int] = {}

    def update(self, record: dict) -> list[str]:
        self.history.append(record)
        step = record.get("step", 0)
        recent = list(self.history)[-self.SHORT:]
        found: dict[str, str] = {}
        if len(recent) >= self.SHORT:
            clipped = mean_of(recent, "completions/clipped_ratio")
            if clipped is not None and clipped > 0.5:
                limit = f"={self.max_completion_length}" if self.max_completion_length else ""
                found["truncation"] = (f"most completions are cut off at max_completion_length{limit} ({clipped:.0%} "
                                       f"over the last {len(recent)} steps): they never reach an answer, so raise "
                                       "--max_completion_length")
            flat = mean_of(recent, "frac_reward_zero_std")
            if flat is not None and flat > 0.75:
                found["no_spread"] = (f"{flat:.0%} of prompt groups have zero reward spread over the last "
                                      f"{len(recent)} steps: GRPO learns nothing from them. Raise --num_generations "
                                      "or --temperature, or warm-start the model (minir1 warmstart) so that some "
                                      "completions earn reward")
        if saturated := self._format_saturated_correctness_flat():
            found["format_saturated"] = saturated
        fired = []
        for kind, message in found.items():
            if step - self._last_fired.get(kind, -10**9) >= self.window:
                self._last_fired[kind] = step
                fired.append(message)
        return fired

    def _format_saturated_correctness_flat(self) -> str | None:
        if not self.format_rewards or len(self.history) < 2 * self.window:
            return None
        records = list(self.history)
        last, before = records[self.window:], records[: self.window]
        total = sum(self.format_rewards.values())
        means = [mean_of(last, f"rewards/{name}/mean") for name in self.format_rewards]
        if None in means:
            return None
        points = sum(m * w for m, w in zip(means, self.format_rewards.values(), strict=True))
        now, then = (mean_of(r, f"rewards/{self.correctness}/mean") for r in (last, before))
        if now is None or then is None or points < 0.95 * total or now - then >= 0.02:
            return None
        return (f"the format score is saturated ({points:.1f} of {total:g} points) while correctness has stayed "
                f"flat at {now:.0%} for {len(records)} steps: the model has learned the format but not the task. "
                "Train longer, raise --num_generations, lower the weight of format rewards, or start from a "
                "stronger model")


class MetricsLogger(TrainerCallback):
    """Writes ``metrics.jsonl``: one line per logged step, TRL's metrics plus step time, generated tokens per
    second and the step's health warnings (also logged). On resume it first drops the steps about to be redone
    from ``metrics.jsonl``, ``samples.jsonl`` and ``eval_samples.jsonl``, so no step is lost or duplicated."""

    def __init__(self, run_dir: Path, completions_per_step: int, health: HealthMonitor):
        self.path = Path(run_dir) / METRICS
        self.completions_per_step = completions_per_step
        self.health = health
        self._last_time, self._last_step = time.perf_counter(), 0

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            for name in (METRICS, SAMPLES, EVAL_SAMPLES):
                truncate_after(self.path.with_name(name), state.global_step)
            for record in read_jsonl(self.path):
                if "reward" in record:
                    self.health.update(record)
        self._last_time, self._last_step = time.perf_counter(), state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or "train_runtime" in logs:
            return
        now = time.perf_counter()
        step_seconds = (now - self._last_time) / max(state.global_step - self._last_step, 1)
        self._last_time, self._last_step = now, state.global_step
        record = {"step": state.global_step,
                  # a NaN (a mean over nothing) is not JSON: null
                  **{k: v if math.isfinite(v) else None for k, v in logs.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool)},
                  "step_seconds": step_seconds}
        length = logs.get("completions/mean_length")
        if isinstance(length, (int, float)):
            record["gen_tokens_per_second"] = length * self.completions_per_step / step_seconds
        for warning in self.health.update(record):
            log.warning("step %d: %s", state.global_step, warning)
            record.setdefault("health", []).append(warning)
        append(self.path, [record])


class ProgressBar(TrainerCallback):
    """One tqdm bar with the few numbers a user watches; ``fields`` maps a label to ``(log key, format)``.
    Off a terminal there is no bar, only one line when the phase ends: its steps, time and the last values of
    ``fields``."""

    def __init__(self, desc: str, fields: dict[str, tuple[str, str]]):
        self.desc, self.fields = desc, fields
        self.bar = None
        self.post: dict[str, str] = {}
        self._start: float | None = None  # set with _first_step when training begins on the main process

    @classmethod
    def for_grpo(cls, reward_points: dict[str, float]) -> ProgressBar:
        total = sum(reward_points.values())
        fields = {"reward": ("reward", "{:.2f}/" + f"{total:g}")}
        if correctness := next((k for k in reward_points if k in CORRECTNESS), None):
            fields["lenient" if correctness == "lenient_correctness" else "correct"] = (f"rewards/{correctness}/mean",
                                                                                      "{:.0%}")
        fields["len"] = ("completions/mean_length", "{:.0f}")
        return cls("GRPO", fields)

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self._start, self._first_step, self.post = time.perf_counter(), state.global_step, {}
        if sys.stderr.isatty() and not getattr(args, "disable_tqdm", False):  # where tqdm draws, unless turned off
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.desc, unit="step",
                            dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        post = {label: fmt.format(logs[key]) for label, (key, fmt) in self.fields.items()
                if isinstance(logs.get(key), (int, float))}
        self.post.update(post)
        if post and self.bar is not None:
            self.bar.set_postfix(post, refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self._start is not None:  # no terminal: one line for the whole phase
            values = ", ".join(f"{label} {value}" for label, value in self.post.items())
            log.info("%s: %d steps in %.0f s%s", self.desc, state.global_step - self._first_step,
                     time.perf_counter() - self._start, f" ({values})" if values else "")
        self._start = None


def progress_bars_on() -> bool:
    """Whether progress bars belong in the output: only on a terminal. Elsewhere (a log file, CI) every
    redraw would be one more line, so this also turns off the ``datasets`` bars (TRL's tokenizing passes)."""
    if sys.stderr.isatty():
        return True
    import datasets

    datasets.disable_progress_bars()
    return False


def use_progress_bar(trainer, bar: ProgressBar) -> None:
    """Swap transformers' progress callback for ``bar``; with ``disable_tqdm`` transformers adds a printer of
    every log dict instead (last, after a user's callbacks), swapped too: then ``bar`` draws nothing and says
    one line at the end."""
    trainer.remove_callback(ProgressCallback)
    if trainer.args.disable_tqdm:
        printers = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, PrinterCallback)]
        if printers:
            trainer.remove_callback(printers[-1])
    trainer.add_callback(bar)


class GracefulStop(TrainerCallback):
    """Ctrl-C or SIGTERM: finish the current step, save a checkpoint, stop. A second Ctrl-C aborts."""

    def __init__(self):
        self.signal_name: str | None = None
        self._previous: dict = {}

    @property
    def stopped(self) -> bool:
        return self.signal_name is not None

    def _handle(self, signum, frame):
        if self.signal_name is not None:  # second signal: give up waiting
            self._restore()
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        log.warning("%s received: saving a checkpoint at the end of this step (press Ctrl-C again to abort)",
                    self.signal_name)

    def _restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def on_train_begin(self, args, state, control, **kwargs):
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread (e.g. a notebook worker): no handlers, no graceful stop
            self._previous = {}

    def on_step_end(self, args, state, control, **kwargs):
        # Every process must stop at the same step, or the others hang in the next collective.
        if any(gather_object([self.signal_name])):
            self.signal_name = self.signal_name or "peer"
            control.should_save = control.should_training_stop = True

    def on_train_end(self, args, state, control, **kwargs):
        self._restore()


class SampleRecorder:
    """A reward function that also writes samples: wraps ``fn`` and returns its rewards unchanged. At the first
    step and every ``every`` steps, the first ``num`` completions of the batch (one prompt's group, so the spread
    GRPO learns from is visible) go to ``samples.jsonl`` with their rewards in points (and ``"unscored": true``
    where ``fn``, an :class:`~minir1.rewards.UnscoredWhenCut`, gave TRL none). Picklable, and named like
    ``fn``, so metric keys do not change."""

    def __init__(self, fn, path: str, every: int, num: int, rewards: dict[str, float]):
        self.fn, self.__name__, self.path, self.every, self.num = fn, fn.__name__, str(path), every, num
        self.rewards = dict(rewards)  # reward name -> weight
        self._last_step = -1

    def __call__(self, completions, trainer_state, **kwargs):
        out = self.fn(completions, trainer_state=trainer_state, **kwargs)
        step = trainer_state.global_step + 1
        if step != self._last_step and is_main_process() and (step == 1 or step % self.every == 0):
            self._last_step = step
            self._write(step, completions[: self.num], kwargs, out[: self.num])
        return out

    def _write(self, step, completions, columns, given):
        n = len(completions)
        # The question column, not the prompt: the prompt may be rendered text.
        answers, styles, ids, questions, prefills = (list(columns.get(name) or [None] * n)[:n]
                                                     for name in ("answer", "tag_style", "id", "question", "prefill"))
        scored = score(completions, answers, self.rewards, tag_style=styles, prefill=prefills)
        correct = (REWARDS["correctness"](completions, answer=answers, prefill=prefills)
                   if all(a is not None for a in answers) else [None] * n)
        records = [{"step": step, "id": ids[i], "question": questions[i], "answer": answers[i],
                    **({"prefill": prefills[i]} if prefills[i] else {}),
                    "completion": completion_text(completions[i]), "correct": correct[i] == 1.0,
                    "rewards": {reward_key(name): points for name, points in scored[i]["rewards"].items()},
                    "total": scored[i]["total"],
                    # no reward reached TRL: a completion cut at the length limit under score_truncated: false
                    **({"unscored": True} if isinstance(self.fn, UnscoredWhenCut) and given[i] is None else {})}
                   for i in range(n)]
        append(self.path, records)


class PeriodicEval(TrainerCallback):
    """At step 0 (of a fresh run) and every ``every`` steps, evaluate the model being trained on fixed held-out
    problems: ``eval/*`` lines go to ``metrics.jsonl``, each problem's completion and verdict to ``eval_samples.jsonl``.
    Generated and judged as ``minir1 eval`` does with the same :class:`~minir1.evaluate.EvalSettings` (greedy,
    the whole completion after the run's ``prefill``), so the curve measures what the reward sees."""

    def __init__(self, every: int, problems, settings, metrics: MetricsLogger):
        self.every, self.problems, self.settings, self.metrics = every, problems, settings, metrics

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step == 0:  # the starting point of the curve
            self.on_step_end(args, state, control, **kwargs)

    def on_step_end(self, args, state, control, model, processing_class, **kwargs):
        if state.global_step % self.every or not state.is_world_process_zero:
            return
        t, per_problem = time.perf_counter(), []
        result = evaluate_problems(model, processing_class, self.problems, self.settings, on_records=per_problem.extend)
        record = {"step": state.global_step, "eval_seconds": time.perf_counter() - t,
                  **{f"eval/{k}": v for k, v in result.items() if isinstance(v, (int, float))}}
        keys = ("id", "gold", "prefill", "completion", "extracted", "correct", "lenient_correct", "format_ok")
        append(self.metrics.path.with_name(EVAL_SAMPLES),
               [{"step": state.global_step, **{k: r.get(k) for k in keys}} for r in per_problem])
        log.info("step %d: held-out accuracy %.1f%% strict, %.1f%% lenient, format ok %.1f%% (n=%d)",
                 state.global_step, 100 * result["accuracy"], 100 * result["lenient_accuracy"],
                 100 * result["format_rate"], result["n"])
        append(self.metrics.path, [record])
