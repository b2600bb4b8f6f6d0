"""Health warnings and plots, from metric records."""

import subprocess
import sys

from minir1 import runs
from minir1.callbacks import HealthMonitor, MetricsLogger, ProgressBar
from minir1.jsonl import read_jsonl
from minir1.plots import plot_diagnostics, plot_rewards, smooth


def feed(monitor, records):
    out = []
    for r in records:
        out += monitor.update(r)
    return out


def test_a_nan_metric_is_written_as_null_and_skipped_by_the_health_checks(tmp_path):
    # a NaN metric (a mean over nothing, e.g. no scored completion under score_truncated: false) is not JSON
    state = type("State", (), {"is_world_process_zero": True, "global_step": 1})()
    logger = MetricsLogger(tmp_path, 8, HealthMonitor(window=1))
    logger.on_log(None, state, None, logs={"reward": float("nan"), "rewards/correctness/mean": 0.5})
    assert '"reward": null' in (tmp_path / runs.METRICS).read_text()
    assert read_jsonl(tmp_path / runs.METRICS)[0]["rewards/correctness/mean"] == 0.5


def test_truncation_warning_fires_once_per_window():
    m = HealthMonitor(window=5, max_completion_length=128)
    fired = feed(m, [{"step": s, "completions/clipped_ratio": 0.8} for s in range(1, 9)])
    assert len(fired) == 2 and "max_completion_length=128" in fired[0]


def test_no_spread_warning():
    fired = feed(HealthMonitor(window=5), [{"step": s, "frac_reward_zero_std": 1.0} for s in range(1, 4)])
    assert len(fired) == 1 and "zero reward spread" in fired[0]


def test_healthy_run_is_quiet():
    records = [{"step": s, "completions/clipped_ratio": 0.1, "frac_reward_zero_std": 0.2,
                "rewards/format_rubric/mean": 1.0, "rewards/correctness/mean": 0.01 * s} for s in range(1, 60)]
    assert feed(HealthMonitor(window=10, reward_points={"format_rubric": 13, "correctness": 10}), records) == []


def test_format_saturated_while_correctness_flat():
    records = [{"step": s, "rewards/format_rubric/mean": 0.99, "rewards/correctness/mean": 0.3} for s in range(1, 41)]
    fired = feed(HealthMonitor(window=10, reward_points={"format_rubric": 13, "correctness": 10}), records)
    assert fired and "learned the format but not the task" in fired[0]


def test_lenient_correctness_is_the_runs_correctness_not_a_format_reward():
    points = {"format_rubric": 13, "lenient_correctness": 10}
    flat = [{"step": s, "rewards/format_rubric/mean": 0.99, "rewards/lenient_correctness/mean": 0.3}
            for s in range(1, 41)]
    fired = feed(HealthMonitor(window=10, reward_points=points), flat)
    assert fired and "12.9 of 13 points" in fired[0] and "flat at 30%" in fired[0]
    rising = [{**r, "rewards/lenient_correctness/mean": 0.01 * r["step"]} for r in flat]
    assert feed(HealthMonitor(window=10, reward_points=points), rising) == []
    assert ProgressBar.for_grpo(points).fields["lenient"] == ("rewards/lenient_correctness/mean", "{:.0%}")


def test_smooth_and_plots_return_figures():
    assert smooth([1, 1, 4], window=3) == [1, 1, 2]
    records = [{"step": s, "reward": s / 10, "rewards/format_rubric/mean": min(s / 15, 1),
                "rewards/correctness/mean": s / 100, "completions/mean_length": 100, "completions/clipped_ratio": 0,
                "frac_reward_zero_std": 0.5, "entropy": 1.0} for s in range(1, 30)]
    records.append({"step": 10, "eval/accuracy": 0.3})
    fig = plot_rewards(records, {"format_rubric": 13, "correctness": 10})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["format_rubric (of 13)", "correctness (of 10)", "total (of 23)", "held-out accuracy (%)"]
    assert len(plot_diagnostics(records, 256).axes) == 4


def test_plot_command_errors_on_a_non_run_folder(tmp_path):
    r = subprocess.run([sys.executable, "-m", "minir1", "plot", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and "is not a minir1 run folder" in r.stderr


def test_a_dollar_sign_in_a_title_is_plain_text(tmp_path):
    import io

    records = [{"step": s, "reward": s / 10, "rewards/format_rubric/mean": 0.5} for s in range(1, 5)]
    for title in ("run x$_$: model", "price $5 and $6"):  # the first breaks mathtext, the second would italicise
        fig = plot_rewards(records, {"format_rubric": 13}, title=title)
        fig.savefig(io.BytesIO(), format="png")  # drawing is where mathtext would fail
        assert fig.axes[0].get_title() == title


def test_records_without_a_step_are_skipped_and_a_file_with_none_is_a_one_line_error(tmp_path):
    import json

    from minir1.plots import series

    records = [{"reward": 1.0}, {"step": 2, "reward": 3.0}, {"step": True, "reward": 4.0}]
    assert series(records, "reward") == ([2], [3.0])
    run = tmp_path / "run"
    run.mkdir()
    runs.mark(run)
    (run / "config.yaml").write_text("model: tiny\n")
    (run / "metrics.jsonl").write_text("".join(json.dumps({"reward": r}) + "\n" for r in (0.1, 0.2)))
    r = subprocess.run([sys.executable, "-m", "minir1", "plot", str(run)], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "no 'step'" in r.stderr
    assert not (run / "plots").exists()
