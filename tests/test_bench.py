"""The benchmarks: how a step's cost is counted, every script's quick mode, and BENCHMARKS.md.

Smoke runs write their figures to a temporary folder: a smoke run never overwrites a
measurement. Nothing here asserts a time; the quick runs check that the work and the
settings are what each benchmark says they are (completions per step as generated,
gradient checkpointing and LoRA dropout as the trainer got them).
"""

import json
import os
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from minir1.jsonl import read_jsonl
from minir1.stats import mcnemar

BENCH = Path(__file__).parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402


def test_cycle_steps_follow_trl_generation_cadence():
    assert common.cycle_steps({"gradient_accumulation_steps": 64}) == 1
    assert common.cycle_steps({"gradient_accumulation_steps": 4, "steps_per_generation": 8}) == 2
    assert common.cycle_steps({"gradient_accumulation_steps": 4, "num_iterations": 2}) == 2
    with pytest.raises(ValueError, match="whole number"):
        common.cycle_steps({"gradient_accumulation_steps": 4, "steps_per_generation": 6})


def test_whole_cycles_counts_generating_and_training_steps_together():
    # a two-step cycle: the generating step is slow, the next one fast; step 1 is the warm-up cycle's,
    # step 7 starts a cycle that never finished, so neither counts
    seconds = {1: 50.0, 2: 2.0, 3: 6.0, 4: 2.0, 5: 7.0, 6: 1.0, 7: 9.0}
    batches = [{"step": s, "completions": 64, "tokens": 4000 + s} for s in (0, 2, 4, 6)]
    cost = common.whole_cycles(seconds, batches, cycle=2)
    assert cost["timed_steps"] == 4 and cost["timed_cycles"] == 2
    assert cost["seconds_per_step"] == pytest.approx((6 + 2 + 7 + 1) / 4)
    assert cost["completions_per_step"] == 32  # one batch of 64 per two steps
    assert cost["generated_tokens"] == 4002 + 4004
    assert cost["generated_tokens_per_second"] == pytest.approx(8006 / 16)
    with pytest.raises(ValueError, match="no whole timed cycle"):
        common.whole_cycles({1: 1.0, 2: 1.0, 3: 1.0}, batches, cycle=2)
    with pytest.raises(ValueError, match="no whole timed cycle"):
        common.whole_cycles({1: 1.0, 2: 1.0, 4: 1.0}, batches, cycle=1)  # step 3 was never logged


def test_schedule_alternates_order_so_drift_hits_both_sides():
    assert common.schedule(["seeds", "minir1", "x"], 3) == [
        (0, "seeds"), (0, "minir1"), (0, "x"), (1, "x"), (1, "minir1"), (1, "seeds"),
        (2, "seeds"), (2, "minir1"), (2, "x")]


def run_script(tmp_path, script, args):
    env = {**os.environ, "MINIR1_BENCH_RESULTS": str(tmp_path)}
    r = subprocess.run([sys.executable, str(BENCH / script), *args], env=env, capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.mark.parametrize(
    "script, args, name",
    [
        ("score_throughput.py", ["--n", "500", "--repeats", "1"], "score_throughput"),
        ("generation_throughput.py", ["--quick"], "generation_throughput_quick"),
        ("lora_sampling.py", ["--quick"], "lora_sampling_quick"),
        ("cpu_ceiling.py", ["--quick"], "cpu-ceiling-quick"),
        pytest.param("processes.py", ["--quick"], "processes-quick", marks=pytest.mark.slow),  # two torchruns
    ],
)
def test_bench_script_records_figures(tmp_path, script, args, name):
    run_script(tmp_path, script, args)
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["figures"] and result["date"] and result["command"].endswith(" ".join(args))
    assert result["machine"]["cores"] >= 1 and "torch" in result["machine"]
    assert len(result["load_average"]["start"]) == len(result["load_average"]["end"]) == 3
    f = result["figures"]
    if name == "lora_sampling_quick":  # every setup sampled the same forced-length work
        assert set(f["tokens_per_second"]) == {"plain", "lora", "lora-merged"} and f["rows"] * f["new_tokens"] == 64
    if name == "cpu-ceiling-quick":  # every product of the step counted, as TRL computes it on a CPU
        from minir1.tiny import cached_tiny_model

        c = json.loads((cached_tiny_model() / "config.json").read_text())
        h, layers = c["hidden_size"], c["num_hidden_layers"]
        kv = c["num_key_value_heads"] * (c.get("head_dim") or h // c["num_attention_heads"])
        linear = layers * (2 * h * h + 2 * h * kv + 3 * h * c["intermediate_size"])
        head = h * c["vocab_size"]
        positions = f["rows"] * (f["prompt_tokens"] + 8)  # every position of every micro-batch is scored
        phases = f["phases"]
        assert phases["loss forward pass"]["flop"] == 2 * positions * (linear + head)
        assert phases["backward"]["flop"] == 2 * positions * (linear + 2 * head)  # the logits again, then their grad
        prefill, decode = f["prompt_tokens"] * linear + head, 7 * (linear + head)  # 8 tokens: 7 decode steps
        assert phases["generation"]["flop"] == 2 * f["rows"] * (prefill + decode)
        assert all(p["floor_seconds"] > 0 for p in phases.values())
        assert set(f["trl_output_layer_seconds_per_step"]) == {"every_position", "completion_positions"}
    if name == "processes-quick":
        assert f["order"] == [1, 2] and len(f["two_over_one_time_per_round"]) == 1
        for key in ("one_process", "two_processes"):
            assert f[key]["completions_per_step"] == 8  # the same work whatever the number of processes


def check_grpo_step_quick(f: dict) -> None:
    setups = f["setups"]
    assert set(setups) == {"seeds", "minir1"}
    for s in setups.values():
        assert "error" not in s, s.get("error")
        assert s["completions_per_step"] == 8  # 2 prompts x 4 generations, each step generates its own
        assert len(s["runs"]) == 1 and s["runs"][0]["timed_steps"] == 2
    assert setups["seeds"]["received"]["activation_checkpointing"] is True
    assert setups["seeds"]["received"]["lora_dropout"] == 0.05
    assert setups["minir1"]["received"]["activation_checkpointing"] is False
    assert setups["minir1"]["received"]["lora_dropout"] == 0.0
    assert set(f["speedup_vs_seeds"]) == {"seeds", "minir1"} and f["speedup_vs_seeds"]["seeds"] == 1.0


@pytest.mark.slow
def test_gpu_check_smoke_runs_every_stage_and_writes_each_results_file(tmp_path):
    """The GPU check at toy size on the CPU: every stage runs and leaves its file with its fields, at most 8 files."""
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(BENCH / "gpu_check.py"), "--smoke", "--out", str(out)],
                       env={**os.environ, "MINIR1_BENCH_RESULTS": str(tmp_path / "res")}, capture_output=True,
                       text=True, timeout=1500)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    files = {p.name for p in out.iterdir()}
    assert len(files) <= 8 and not (tmp_path / "res").exists()  # everything under --out, nothing in bench/results
    check = json.loads((out / "gpu-check-smoke.json").read_text())["figures"]
    assert set(check["stages"]) == {"tests", "recipe_memory", "grpo_step", "rollout", "demo"}
    for name, stage in check["stages"].items():
        assert stage["status"] == "ok", (name, stage)
        assert set(stage.get("files", [])) <= files
    tests = check["stages"]["tests"]
    assert tests["tests"] == 3 and tests["failures"] == tests["errors"] == 0  # skipped on a CPU, passed on a GPU
    memory = json.loads((out / "recipe_memory-tiny-quick.json").read_text())["figures"]["runs"]
    assert set(memory) == {"mb4", "mb8-ckpt"}
    for name, run in memory.items():  # each setting reached the trainer, at the same work
        assert run["per_device_train_batch_size"] == int(name[2]) and run["completions_per_step"] == 8
        assert run["activation_checkpointing"] is name.endswith("-ckpt")
        assert run["peak_cpu_memory_gb"] > 0
    check_grpo_step_quick(json.loads((out / "grpo_step-quick.json").read_text())["figures"])
    rollout = json.loads((out / "rollout_throughput-quick.json").read_text())["figures"]
    assert rollout["tokens_per_second"]["transformers generate"] > 0
    demo = json.loads((out / "demo-quick.json").read_text())["figures"]
    assert demo["wall_seconds"] > 0 and {"before", "after", "mcnemar"} <= set(demo["results"])
    assert "gpu-check.log" in files


def test_gpu_check_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    r = subprocess.run([sys.executable, str(BENCH / "gpu_check.py"), "--smoke", "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "not empty" in r.stderr and (tmp_path / "keep.txt").read_text() == "mine"


def test_the_gpu_model_is_qwen_05b_architecture_with_every_layer_typed(tiny_model):
    import torch
    from grpo_step import QWEN_05B, qwen_05b_config
    from transformers import Qwen2ForCausalLM

    config = qwen_05b_config(tiny_model)
    assert len(config.layer_types) == config.num_hidden_layers == QWEN_05B["num_hidden_layers"]
    assert config.rope_parameters["rope_theta"] == QWEN_05B["rope_theta"] and config.hidden_size == 896
    with torch.device("meta"):
        model = Qwen2ForCausalLM(config)
    assert 490e6 < sum(p.numel() for p in model.parameters()) < 500e6  # Qwen2.5-0.5B: 494M with tied embeddings


def test_gpu_carry_collects_the_closure_without_what_the_gpu_machine_has():
    import gpu_carry

    pins = gpu_carry.closure(gpu_carry.TOP)
    assert {"trl", "transformers", "datasets", "peft", "dill", "multiprocess"} <= set(pins)
    assert not set(pins) & gpu_carry.LEAVE  # torch, numpy, pyarrow and kernels stay behind


@pytest.mark.slow
def test_generation_cycles_are_counted_as_generated(tmp_path):
    """One generation batch shared by two steps (gen2) or trained on twice (mu2): a whole cycle is two steps,
    and the completions per step are what TRL generated, not what one step trains on."""
    run_script(tmp_path, "grpo_step.py", ["--quick", "--setups", "minir1+gen2,minir1+mu2"])
    setups = json.loads((tmp_path / "grpo_step-quick.json").read_text())["figures"]["setups"]
    for name, per_step in (("minir1+gen2", 8), ("minir1+mu2", 4)):
        s = setups[name]
        assert "error" not in s, s.get("error")
        assert s["cycle_steps"] == 2 and s["runs"][0]["timed_cycles"] == 1
        assert s["completions_per_step"] == per_step


def test_a_recorded_command_carries_the_thread_count_it_ran_with(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(sys, "argv", [str(BENCH / "demo_trials.py"), "--quick"])
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert json.loads(common.record("t", {"x": 1}).read_text())["command"] == \
        "OMP_NUM_THREADS=1 python bench/demo_trials.py --quick"
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert json.loads(common.record("t", {"x": 1}).read_text())["command"] == "python bench/demo_trials.py --quick"


@pytest.mark.slow
def test_demo_trials_pair_every_trial_with_its_own_before(tmp_path):
    """A GRPO trial is the demo with its overrides applied; a supervised trial trains the demo trial's warm start
    on the first problems of the demo's GRPO pool and is paired against the demo's evaluation before GRPO."""
    out = tmp_path / "trials"
    run_script(tmp_path, "demo_trials.py", ["--quick", "--trials", "demo,supervised-800,temperature-1",
                                            "--output_dir", str(out)])
    f = json.loads((tmp_path / "demo-trials-quick.json").read_text())["figures"]
    assert list(f) == ["demo", "supervised-800", "temperature-1"]
    sup = f["supervised-800"]
    pool = [json.loads(line)["id"] for line in (out / "demo" / "data" / "grpo.jsonl").read_text().splitlines()]
    assert sup["problems"] == len(pool) == 64  # --quick: the whole pool of 64
    import demo_trials

    rows = [json.loads(line) for line in (out / "demo" / "data" / "grpo.jsonl").read_text().splitlines()]
    assert sup["problems_digest"] == demo_trials._digest([(r["id"], r["question"], r["answer"])
                                                          for r in rows[:sup["problems"]]])
    before = {json.loads(line)["id"] for line in (out / "demo" / "eval-before" / "samples.jsonl").open()}
    after = {json.loads(line)["id"] for line in (out / "supervised-800" / "eval-after" / "samples.jsonl").open()}
    assert before == after and len(after) == sup["after"]["n"]  # the same held-out problems, paired
    trained_from = json.loads((out / "supervised-800" / "model" / "minir1-warmstart.json").read_text())["model"]
    assert Path(trained_from).resolve() == (out / "demo" / "warmstart").resolve()  # from the demo's warm start
    ran = json.loads((out / "temperature-1" / "results.json").read_text())["settings"]["grpo"]
    assert ran["temperature"] == 1.0 and ran["learning_rate"] == 1e-4  # the overrides reached the demo
    trl = json.loads((out / "temperature-1" / "grpo" / "grpo_config.json").read_text())
    assert trl["temperature"] == 1.0 and trl["learning_rate"] == 1e-4  # and what TRL received
    for t in f.values():
        assert t["lenient_fixed_broken"][0] + t["lenient_fixed_broken"][1] <= t["after"]["n"]

    # Again into the same folder: the trials' own folders are replaced, and a supervised trial alone reuses demo.
    run_script(tmp_path, "demo_trials.py", ["--quick", "--trials", "supervised-800", "--output_dir", str(out)])
    again = json.loads((tmp_path / "demo-trials-quick.json").read_text())["figures"]["supervised-800"]
    assert again["after"] == sup["after"] and again["problems_digest"] == sup["problems_digest"]
    assert again["demo_trial_reused"]["command"].startswith("run_demo(")  # which demo run it started from


@pytest.mark.parametrize("args, message", [
    (["--trials", "demo,nope"], "unknown trial 'nope'"),
    (["--trials", "supervised-800"], "holds no finished demo trial"),
    (["--trials", "supervised-800,demo"], "put demo before the supervised trials"),
    (["--trials", "demo"], "was not written by bench/demo_trials.py"),
    (["--trials", "supervised-800", "--seed", "1"], "was run with another --seed or --quick"),
])
def test_demo_trials_refuse_bad_input_in_one_line_before_any_work(tmp_path, args, message):
    out = tmp_path / "out"
    foreign = args == ["--trials", "demo"]
    if foreign:
        out.mkdir()
        (out / "mine.txt").write_text("a user's file")
        (out / "demo-trials.json").write_text("{}")  # a results file's name is not the script's marker
    if "--seed" in args:  # a finished demo trial of seed 0, in a folder the script owns
        (out / "demo").mkdir(parents=True)
        (out / ".demo-trials-output").write_text(json.dumps({"written_by": "bench/demo_trials.py"}))
        (out / "demo" / "demo.json").write_text(json.dumps({"seed": 0, "settings": {}}))
        (out / "demo" / "results.json").write_text("{}")
    r = subprocess.run([sys.executable, str(BENCH / "demo_trials.py"), "--quick", "--output_dir", str(out), *args],
                       env={**os.environ, "MINIR1_BENCH_RESULTS": str(tmp_path / "res")}, capture_output=True,
                       text=True)
    assert r.returncode != 0 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "res").exists()  # nothing ran, nothing recorded
    if foreign:
        assert sorted(p.name for p in out.iterdir()) == ["demo-trials.json", "mine.txt"]
    elif "--seed" not in args:
        assert not out.exists()


def test_demo_trials_other_than_the_default_set_need_a_results_file_of_their_own(tmp_path):
    r = subprocess.run([sys.executable, str(BENCH / "demo_trials.py"), "--trials", "lora-3e-4", "--output_dir",
                        str(tmp_path / "out")], env={**os.environ, "MINIR1_BENCH_RESULTS": str(tmp_path / "res")},
                       capture_output=True, text=True)
    assert r.returncode != 0 and "need --name" in r.stderr and not (tmp_path / "out").exists()

def test_benchmarks_md_is_what_report_makes_of_the_results(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    subprocess.run([sys.executable, str(BENCH / "report.py"), "--out", str(out)], check=True, capture_output=True)
    made = out.read_text(encoding="utf-8")
    assert made == (BENCH.parent / "BENCHMARKS.md").read_text(encoding="utf-8"), \
        "BENCHMARKS.md is out of date: run python bench/report.py"
    for result in sorted((BENCH / "results").glob("*.json")):
        r = json.loads(result.read_text())
        if r.get("name", "").startswith(("grpo_step", "processes", "recipe_step", "rollout", "generation", "score")):
            assert r["command"] in made, f"{result.name} is not in BENCHMARKS.md"


def test_the_readme_cold_start_table_is_the_committed_results_file():
    """README's "On a real model" figures are copied from bench/results/real-cold-start.json, never typed."""
    readme = (BENCH.parent / "README.md").read_text()
    variants = json.loads((BENCH / "results" / "real-cold-start.json").read_text())["figures"]["variants"]

    from report import _rate as rate  # BENCHMARKS.md's own formatting of a rate and its interval

    where = []
    for name, v in variants.items():
        row = f"| {v['n']} | {rate(v['format'])} | {rate(v['strict'])} | {rate(v['lenient'])} |"
        assert row in readme, f"README's cold-start row for {name} is not {row}"
        where.append(readme.index(row))
    assert where == sorted(where), "README's rows are in the results file's order (think, prefill, example, warmstart)"
    assert list(variants) == ["think", "prefill", "example", "warmstart"]


def test_the_readme_eval_speed_figures_are_the_committed_results_file():
    readme = " ".join((BENCH.parent / "README.md").read_text().split())
    settings = json.loads((BENCH / "results" / "real-eval-speed.json").read_text())["figures"]["settings"]
    old, new = settings["today: float32, batch 32"], settings["bfloat16, batch 64"]  # eval's defaults before, after
    assert f"took {new['seconds']:.0f} s against {old['seconds']:.0f} s with the previous defaults" in readme
    assert f"same strict and format verdicts on {new['verdicts_agreeing_with_today']} of the 64 problems" in readme


def test_the_readme_supervised_bound_sentence_is_the_committed_trials():
    """README's "a supervised pass on 800 prompts does not raise it, while 2000 do" is demo-trials.json."""
    readme = " ".join((BENCH.parent / "README.md").read_text().split())
    f = json.loads((BENCH / "results" / "demo-trials.json").read_text())["figures"]
    few, many = f["supervised-800"], f["supervised-2000"]
    before = 100 * few["before"]["lenient_accuracy"]
    assert (f"In trials on one torch thread, whose warm start reaches {before:.1f}% lenient rather than 54.3%, a "
            f"supervised pass on the gold solutions of {few['problems']} problems from the GRPO pool (as many prompts "
            f"as 100 GRPO steps see) does not raise it either, while {many['problems']} do") in readme
    assert few["torch_threads"] == many["torch_threads"] == 1
    assert few["lenient_p"] > 0.05 and few["after"]["lenient_accuracy"] <= few["before"]["lenient_accuracy"] + 0.02
    assert many["lenient_p"] < 0.01 and many["after"]["lenient_accuracy"] > many["before"]["lenient_accuracy"]
    assert few["before"] == f["demo"]["before"] == many["before"]  # all from the demo trial's warm start


@pytest.mark.slow
def test_real_grpo_speed_runs_each_setup_with_its_settings_and_times_trls_phases(tmp_path, tiny_model):
    """The real-model speed benchmark on the tiny model: every setup's settings reach the trainer (read back
    from grpo_config.json), the phases come from TRL's own timers, and the ratio is against ``before``."""
    setups = "before,after-4x2+checkpointing,after-4x2+plain-sampling"
    run_script(tmp_path, "real_grpo_speed.py", ["--model", str(tiny_model), "--setups", setups,
                                                "--max_completion_length", "16", "--num_generations", "4",
                                                "--name", "smoke"])
    f = json.loads((tmp_path / "real-grpo-speed-smoke.json").read_text())["figures"]
    before, after = f["setups"]["before"], f["setups"]["after-4x2+checkpointing"]
    got = before["runs"][0]["received"]
    assert got["model_init_kwargs"] == {"dtype": "float32"} and got["per_device_train_batch_size"] == 4
    got = after["runs"][0]["received"]
    assert got["model_init_kwargs"] == {"dtype": "bfloat16"} and got["activation_checkpointing"] is True
    assert (got["per_device_train_batch_size"], got["gradient_accumulation_steps"]) == (2, 2)
    assert {"generation", "loss forward pass", "backward, optimizer and the rest"} <= set(
        before["seconds_per_step_by_phase"])
    assert set(f["speedup_vs_before"]) == set(setups.split(","))  # the plain-sampling prototype ran its step too


@pytest.mark.slow
def test_real_grpo_runs_eval_train_eval_and_reports_both_mcnemar_tests(tmp_path, tiny_model):
    """The learning run's driver end to end on the tiny model: the results file has the fields README and
    BENCHMARKS.md read, the plot is written, and a second launch redoes nothing (each stage resumes)."""
    args = ["--output_dir", str(tmp_path / "out"), "--model", str(tiny_model), "--limit", "4", "--max_new_tokens", "16",
            "--max_steps", "2", "--name", "real-grpo-smoke", "--plot", str(tmp_path / "plot.png"),
            "--max_completion_length", "16", "--num_generations", "4", "--per_device_train_batch_size", "4",
            "--max_solution_steps", "2"]
    run_script(tmp_path, "real_grpo.py", args)
    f = json.loads((tmp_path / "real-grpo-smoke.json").read_text())["figures"]
    h = f["held_out"]
    assert f["steps"] == 2 and h["n"] == 4 and (tmp_path / "plot.png").is_file()
    for when in ("before", "after"):
        assert set(h[when]) >= {"format", "strict", "lenient"}
        assert all(set(h[when][k]) >= {"rate", "count"} for k in ("format", "strict", "lenient"))
    # each p-value is McNemar's test of the problems the two evaluations' samples disagree on
    before, after = ({r["id"]: r for r in read_jsonl(p / "samples.jsonl")}
                     for p in (tmp_path / "out" / "eval-before", tmp_path / "out" / "eval-after-step2"))
    for key, field in (("strict", "correct"), ("lenient", "lenient_correct")):
        fixed = sum(not before[i][field] and after[i][field] for i in before)
        broken = sum(before[i][field] and not after[i][field] for i in before)
        assert (h[f"{key}_fixed"], h[f"{key}_broken"]) == (fixed, broken), key
        assert h[f"mcnemar_{key}_p"] == mcnemar(fixed, broken).p_exact, key
    assert f["settings"]["max_completion_length"] == 16 and f["settings"]["per_device_train_batch_size"] == 4
    assert (f["settings"]["data"], f["settings"]["max_solution_steps"]) == ("gsm8k:train", 2)  # minir1's own
    assert (f["settings"]["rewards"], f["settings"]["reward_weights"]) == (["format_rubric", "lenient_correctness"],
                                                                          [13, 10])  # the recipe's
    first = f["training_launches"]
    run_script(tmp_path, "real_grpo.py", args)
    again = json.loads((tmp_path / "real-grpo-smoke.json").read_text())["figures"]
    assert again["training_launches"] == first, "a finished run is not trained again"
    assert again["held_out"] == h
    launches = again["wall_seconds_by_launch"]  # the second launch's seconds are added to the first's
    assert len(launches) == 2 and launches[0] == f["wall_seconds_by_launch"][0]
    assert set(launches[1]) == {"date", "eval_before", "train_this_launch", "eval_after"}


def test_the_readme_real_grpo_table_is_the_committed_results_file():
    """README's "A real model learns on a CPU" figures come from bench/results/real-grpo.json, never typed."""
    readme = (BENCH.parent / "README.md").read_text()
    f = json.loads((BENCH / "results" / "real-grpo.json").read_text())["figures"]
    h = f["held_out"]

    from report import _rate as rate

    for when, s in (("before GRPO", h["before"]), (f"after {f['steps']} GRPO steps", h["after"])):
        row = f"| {when} | {h['n']} | {rate(s['format'])} | {rate(s['strict'])} | {rate(s['lenient'])} |"
        assert row in readme, f"README's row is not {row}"
    assert f"strict p = {h['mcnemar_strict_p']:.2g}" in readme and f"lenient p = {h['mcnemar_lenient_p']:.2g}" in readme
    assert f"({f['plot']})" in readme and (BENCH.parent / f["plot"]).is_file()
    prose = " ".join(readme.split())
    for typed in (f"({h['strict_fixed']} problems wrong to right, {h['strict_broken']} right to wrong)",
                  f"{h['lenient_fixed']} problems gained, {h['lenient_broken']} lost)",
                  f"maximum at step {f['format_reward_90pct_step']}",
                  f"mean length {h['before']['mean_length']:.0f} tokens before, {h['after']['mean_length']:.0f} after",
                  f"{f['steps']} steps, {f['train_seconds'] / 60:.0f} minutes of training"):
        assert typed in prose, f"README should say {typed!r}, from real-grpo.json"


def test_a_run_without_a_clip_is_named_off_in_the_tables():
    from report import scaling_and_clip

    assert scaling_and_clip({"scale_rewards": "none", "max_grad_norm": 0.0}) == "none, off"
    assert scaling_and_clip({"scale_rewards": "group", "max_grad_norm": 0.2}) == "group, 0.2"
    assert scaling_and_clip({"scale_rewards": "none", "max_grad_norm": 1000.0}) == "none, 1000.0"
    heading = next(line for line in (BENCH.parent / "BENCHMARKS.md").read_text().splitlines()
                   if line.startswith("### `real-grpo-scalenone-seed42.json`"))
    assert "gradient norm not clipped" in heading and "clipped at 0" not in heading


def test_the_readme_table_of_the_recipes_runs_is_their_results_files():
    """Each row of README's table of the CPU recipe's runs (seeds, KL) is its results file's figures, never typed."""
    from report import RESULTS, SEED_TABLE_HEADER, seed_row

    readme = (BENCH.parent / "README.md").read_text()
    section = readme.split("## A real model learns on a CPU", 1)[1].split("\n## ", 1)[0]
    assert SEED_TABLE_HEADER in section, "README's table of the recipe's runs has lost its header"
    table = section.split(SEED_TABLE_HEADER + "\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]  # after | --- |
    names = [row.split("|")[1].strip().strip("`") for row in table]
    assert "real-grpo" in names and len(names) >= 3, f"the table should hold the recipe's run and its seeds: {names}"
    for name, row in zip(names, table, strict=True):
        assert (RESULTS / f"{name}.json").is_file(), f"README's table names {name}, which has no results file"
        assert row == seed_row(name), f"README's row for {name} is not its results file's:\n{seed_row(name)}"


def test_the_readme_mean_rises_over_seeds_are_the_results_files():
    """The mean rise in strict accuracy over the recipe's seeds, and over the seeds run without scaling or clip."""
    from report import RESULTS, SEED_TABLE_HEADER, TRL_SCALING

    def moved(h: dict, measure: str) -> float:  # points, after minus before
        return 100 * (h["after"][measure]["rate"] - h["before"][measure]["rate"])

    readme = (BENCH.parent / "README.md").read_text()
    table = readme.split(SEED_TABLE_HEADER + "\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    rises = {}
    for name in (row.split("|")[1].strip().strip("`") for row in table):
        f = json.loads((RESULTS / f"{name}.json").read_text())["figures"]
        st, h = f["settings"], f["held_out"]
        scaling = st.get("scale_rewards", TRL_SCALING)  # older results files name no scaling: TRL's default then
        kind = ("recipe" if (scaling, st["max_grad_norm"], st["beta"]) == ("group", 0.2, 0.04)
                else "unscaled" if scaling == "none" and st["max_grad_norm"] in (0, 1000) else None)
        rises.setdefault(kind, []).append(moved(h, "strict"))
    recipe, unscaled = (sum(rises[k]) / len(rises[k]) for k in ("recipe", "unscaled"))
    assert len(rises["recipe"]) == len(rises["unscaled"]) == 3
    prose = " ".join(readme.split())
    assert f"the mean over the three is +{recipe:.1f} points" in prose
    assert f"the mean rise in strict accuracy is +{unscaled:.1f} points without scaling or clip and +{recipe:.1f} " \
           "with the recipe" in prose
    seed42 = json.loads((RESULTS / "real-grpo-scalenone-seed42.json").read_text())["figures"]["held_out"]
    ones, two, r42 = rises["unscaled"]
    assert f"seed 1 reached +{ones:g}, seed 2 +{two:g} and seed 42 +{r42:g}: not clearly better" in prose
    lost = -moved(seed42, "lenient")
    kl02 = json.loads((RESULTS / "real-grpo-beta02-seed42.json").read_text())["figures"]["held_out"]
    kl02_rise, kl02_lost = moved(kl02, "strict"), -moved(kl02, "lenient")
    assert f"seed 42's rose {r42:.1f} points, against {rises['recipe'][0]:.1f} with the recipe as it is and " \
           f"{kl02_rise:.1f} at the same KL coefficient with the recipe's scaling and clip (`real-grpo-beta02-seed42`), " \
           f"and its lenient accuracy fell {lost:.1f} points (p = {seed42['mcnemar_lenient_p']:.2g}; {kl02_lost:.1f} " \
           f"with the recipe's scaling and clip, p = {kl02['mcnemar_lenient_p']:.2g})" in prose
    assert f"with seed 42 it rose {kl02_rise:.1f} points where 0.04 rose {rises['recipe'][0]:.1f}" in prose


def test_step_signal_counts_spread_clipping_and_where_late_steps_got_their_signal():
    from step_signal import count

    def step(n, grad_norm, zero_std=0.0, answer_std=0.0):
        return {"step": n, "grad_norm": grad_norm, "frac_reward_zero_std": zero_std,
                "rewards/lenient_correctness/std": answer_std}

    records = [step(1, 0.9), step(2, 0.1, zero_std=1.0), step(3, 0.3, zero_std=1.0), step(4, 0.5, answer_std=4.0),
               step(5, 0.15), step(6, 0.8, answer_std=0.0), {"step": 6, "eval/accuracy": 0.1}]
    assert count(records, 0.2, "lenient_correctness", after_step=3) == {
        "steps": 6, "steps_with_spread": 4, "clipped_with_spread": 3, "clipped_without_spread": 1,
        "smallest_grad_norm_with_spread": 0.15, "late_steps_with_spread": 3, "late_answer_spread": 1,
        "late_format_spread_only": 2, "late_answer_grad_norm_applied": 0.2, "late_format_only_grad_norm_applied": 0.175}
    unclipped = count(records + [step(7, 2.5, answer_std=1.0)], 1000, "lenient_correctness", after_step=3)
    assert (unclipped["late_answer_grad_norm_applied"], unclipped["late_format_only_grad_norm_applied"]) == (1.5, 0.475)
    assert count(records, 0.2, "lenient_correctness", after_step=6)["late_answer_grad_norm_applied"] is None
    off = count(records, 0, "lenient_correctness", after_step=3)  # 0 turns the Trainer's clipping off
    assert (off["clipped_with_spread"], off["clipped_without_spread"], off["late_format_only_grad_norm_applied"]) == \
        (0, 0, 0.475)


def test_the_readme_step_signal_counts_are_the_committed_results_file():
    counted = json.loads((BENCH / "results" / "grpo-step-signal.json").read_text())["figures"]["runs"]
    prose = " ".join((BENCH.parent / "README.md").read_text().split())
    recipe = [r for r in counted.values() if (r["scale_rewards"], r["max_grad_norm"]) == ("group", 0.2)]
    fmt, ans = ([r[k] for r in recipe] for k in ("late_format_spread_only", "late_answer_spread"))
    assert f"{min(fmt)} to {max(fmt)} steps of each run had a spread from the format alone and {min(ans)} to " \
           f"{max(ans)} a spread from a right answer" in prose
    assert "not all scored alike had its gradient clipped, in all five runs with these settings" in prose
    assert len(recipe) == 5 and all(r["clipped_with_spread"] == r["steps_with_spread"] for r in recipe)
    unscaled = {name: r for name, r in counted.items() if r["scale_rewards"] == "none"}
    assert len(unscaled) == 3 and all(r["clipped_with_spread"] == 0 for r in unscaled.values()), \
        "the three unscaled runs should never reach a clip"
    (a1, f1), (a2, f2), (a42, f42) = ((r["late_answer_grad_norm_applied"], r["late_format_only_grad_norm_applied"])
                                      for r in (unscaled[f"real-grpo-scalenone-seed{n}"] for n in (1, 2, 42)))
    assert f"a gradient of mean norm {a1} and its format-only steps {f1} (the answer steps {a1 / f1:.1f} times as " \
           f"much), seed 2's {a2} and {f2} ({a2 / f2:.1f} times), seed 42's {a42} and {f42} ({a42 / f42:.1f} " \
           f"times), where the clip gave" in prose
    fewest = unscaled["real-grpo-scalenone-seed42"]["late_answer_spread"]
    assert all(r["late_answer_spread"] > fewest for name, r in counted.items() if name != "real-grpo-scalenone-seed42")
    how_many = {7: "seven", 8: "eight", 9: "nine"}[len(counted)]  # as README writes the count
    assert f"of the {how_many} runs counted, `real-grpo-scalenone-seed42` had the fewest steps after step 25 with a " \
           f"spread from a right answer, {fewest}." in prose
    minutes = json.loads((BENCH / "results" / "real-grpo-scalenone-seed1.json").read_text())["figures"]["train_seconds"]
    assert f"steps' seconds sum to {minutes / 60:.0f} minutes" in prose


def test_the_readme_file_map_has_a_line_for_every_tracked_file():
    """README's "Files" section: one line per file git tracks (a folder or glob line covers data and results)."""
    root = BENCH.parent
    try:
        tracked = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True,
                                 check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    readme = (root / "README.md").read_text()
    block = readme.split("## Files", 1)[1].split("```")[1]
    entries = [line.split()[0] for line in block.splitlines() if line.strip()]
    patterns = [e + "*" if e.endswith("/") else e for e in entries]  # a folder line covers what is under it
    missing = [f for f in tracked.split("\0") if f and not any(fnmatchcase(f, p) for p in patterns)]
    assert not missing, f"README's file map has no line for {missing}"
    stale = [e for e in entries if "*" not in e and not (root / e).exists()]
    assert not stale, f"README's file map names files that do not exist: {stale}"
