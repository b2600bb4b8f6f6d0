"""Plots of a run, drawn from its ``metrics.jsonl`` (never from a tracking service).

Functions take records and return matplotlib figures; :func:`write_plots` (``minir1 plot RUN_DIR``)
writes them to ``RUN_DIR/plots/`` as ``rewards.png`` and ``diagnostics.png``.
"""

from __future__ import annotations

from pathlib import Path

from . import runs
from .errors import UserError
from .jsonl import read_jsonl


def smooth(values: list[float], window: int = 10) -> list[float]:
    """Trailing moving average over up to ``window`` points (NaN-free input).

    >>> smooth([0, 2, 4, 6], window=2)
    [0.0, 1.0, 3.0, 5.0]
    """
    return [sum(values[max(0, i + 1 - window) : i + 1]) / min(i + 1, window) for i in range(len(values))]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def series(records: list[dict], key: str, scale: float = 1.0) -> tuple[list[int], list[float]]:
    """Steps and values of one metric, skipping records that lack it or a step."""
    pairs = [(r["step"], r[key] * scale) for r in records if _number(r.get(key)) and _number(r.get("step"))]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _line(ax, steps, values, label, color, window):
    if not steps:
        return
    ax.plot(steps, values, color=color, alpha=0.25, linewidth=1)
    ax.plot(steps, smooth(values, window), color=color, linewidth=2, label=label)


def plot_rewards(records: list[dict], rewards: dict[str, float], title: str = "Reward progression",
                 window: int = 10):
    """Each reward in points and the total per step, raw and smoothed; held-out accuracy on a second axis."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    colors = plt.get_cmap("tab10").colors
    for i, (name, weight) in enumerate(rewards.items()):
        steps, values = series(records, f"rewards/{name}/mean", weight)
        _line(ax, steps, values, f"{name} (of {weight:g})", colors[i % 10], window)
    steps, values = series(records, "reward")
    _line(ax, steps, values, f"total (of {sum(rewards.values()):g})", "black", window)
    ax.set_xlabel("step")
    ax.set_ylabel("reward (points)")
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    eval_steps, accuracy = series(records, "eval/accuracy", 100)
    if eval_steps:
        ax2 = ax.twinx()
        ax2.plot(eval_steps, accuracy, "o--", color="tab:red", label="held-out accuracy (%)")
        # the last number anywhere, format or not: the task itself, apart from the format
        lenient_steps, lenient = series(records, "eval/lenient_accuracy", 100)
        if lenient_steps:
            ax2.plot(lenient_steps, lenient, "s:", color="tab:purple", label="held-out lenient accuracy (%)")
        ax2.set_ylabel("held-out accuracy (%)")
        ax2.set_ylim(0, 100)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    if handles:  # below the axes, so it never hides a curve
        legend = ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.12),
                           ncol=min(len(handles), 4), fontsize=9, frameon=False)
        for text in legend.get_texts():
            text.set_parse_math(False)
    # names are plain text: a '$' in a run or model name must not start matplotlib's mathtext
    ax.set_title(title, parse_math=False)
    fig.tight_layout()
    return fig


def plot_diagnostics(records: list[dict], max_completion_length: int | None = None, window: int = 10):
    """Completion length, truncated fraction, zero-spread groups and KL (or entropy), one panel each."""
    import matplotlib.pyplot as plt

    has_kl = any(_number(r.get("kl")) for r in records)
    panels = [
        ("completions/mean_length", "completion length (tokens)"),
        ("completions/clipped_ratio", "truncated fraction"),
        ("frac_reward_zero_std", "groups with no reward spread"),
        ("kl" if has_kl else "entropy", "KL to reference" if has_kl else "entropy (no KL computed)"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    for ax, (key, label) in zip(axes.flat, panels, strict=True):
        steps, values = series(records, key)
        _line(ax, steps, values, label, "tab:blue", window)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        if key == "completions/mean_length" and max_completion_length:
            ax.axhline(max_completion_length, color="tab:red", linestyle=":", label="max_completion_length")
            ax.legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    fig.tight_layout()
    return fig


def write_plots(run_dir: str | Path) -> list[Path]:
    """Draw a run's plots into ``RUN_DIR/plots/`` and return their paths."""
    import matplotlib.pyplot as plt

    run = Path(run_dir)
    records = read_jsonl(run / runs.METRICS)
    if not any("reward" in r for r in records):
        raise UserError(f"{run / runs.METRICS} has no logged training steps yet: nothing to plot")
    if not any(_number(r.get("step")) and "reward" in r for r in records):
        raise UserError(f"{run / runs.METRICS} has rewards but no 'step' in any of its records: is it a minir1 "
                        "metrics file?")
    settings = runs.saved_settings(run)  # config.yaml's, overlaid with what TRL ended with
    out = run / "plots"
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file: move it away so that the plots can be written there")
    out.mkdir(exist_ok=True)
    model = settings.get("model", "")
    title = f"{settings.get('recipe') or run.name}: {Path(model).name if Path(model).exists() else model}"
    figures = {"rewards.png": plot_rewards(records, runs.reward_points(run), title=title),
               "diagnostics.png": plot_diagnostics(records, settings.get("max_completion_length"))}
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
    return [out / name for name in figures]


def cli_plot(args) -> int:
    runs.require_run(args.run_dir)
    for path in write_plots(args.run_dir):
        print(path)
    return 0
