"""Configuration: TRL's parser, precedence, every recipe, what TRL receives, and validation in plain words."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from minir1 import runs
from minir1.config import TRL_DEFAULTS, load_config
from minir1.errors import UserError
from minir1.machine import validate
from minir1.recipes import list_recipes
from minir1.runs import save_config
from minir1.train import train_settings

RECIPES = Path(__file__).parents[1] / "src/minir1/recipes"


@pytest.fixture
def fake_vllm(monkeypatch):
    """vLLM's presence faked, so that grpo-demo (use_vllm: true) validates on this CPU machine."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))


def test_defaults_then_recipe_then_command_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("max_steps: 7\nlearning_rate: 1\nlora: false\ntop_k: 5\n")
    cfg = load_config(str(recipe), ["--max_steps", "9", "--rewards", "correctness", "--reward_weights=2"])
    t = vars(cfg.args)
    assert (t["max_steps"], t["learning_rate"], cfg.lora, t["top_k"]) == (9, 1.0, False, 5)
    assert isinstance(t["learning_rate"], float)
    assert t["num_generations"] == 8 and t["temperature"] == 1.0  # neither set: minir1's, then TRL's default
    assert t["lr_scheduler_type"] == TRL_DEFAULTS["lr_scheduler_type"]
    assert cfg.reward_names == ["correctness"] and cfg.weights == [2.0] and cfg.recipe == "r"


def test_an_answer_reward_the_scheme_lacks_takes_its_correctness_weight():
    cfg = load_config(None, ["--rewards", "format_rubric", "lenient_correctness"])
    assert cfg.weights == [13.0, 10.0] and cfg.args.reward_weights == [13.0, 10.0]
    cfg = load_config(None, ["--scheme", "grpo-demo", "--rewards", "lenient_correctness", "xml_count"])
    assert cfg.weights == [2.0, 0.5]
    assert load_config(None, ["--rewards", "lenient_correctness", "xml_count"]).weights == [10.0, 1.0]


@pytest.mark.parametrize("recipe", list_recipes())
def test_minir1_score_reads_a_recipes_rewards_as_training_does(recipe):
    from minir1.scoring import recipe_rewards

    cfg = load_config(recipe, [])
    assert recipe_rewards(recipe) == (cfg.scheme, cfg.style, dict(zip(cfg.reward_names, cfg.weights, strict=True)))


def test_derived_values_come_from_the_scheme():
    cfg = load_config(None, {"scheme": "grpo-demo"})
    assert cfg.style == "reasoning" and cfg.weights == [0.5, 0.5, 0.5, 0.5, 2.0]
    assert cfg.args.reward_weights == cfg.weights and cfg.run_dir == Path("runs/run")
    assert cfg.resolved()["tag_style"] == "reasoning" and cfg.resolved()["output_dir"] == "runs/run"


def test_precision_follows_the_device(monkeypatch):
    monkeypatch.setattr("minir1.config._has_cuda", lambda: False)
    cpu = load_config("tiny")
    assert cpu.args.bf16 is False and cpu.args.model_init_kwargs == {"dtype": "float32"} and cpu.args.use_cpu
    monkeypatch.setattr("minir1.config._has_cuda", lambda: True)
    monkeypatch.setattr("minir1.models.gpu_has_bf16", lambda: True)
    monkeypatch.setattr("transformers.training_args.is_torch_bf16_gpu_available", lambda: True)
    gpu = load_config("tiny")
    assert gpu.args.bf16 is True and gpu.args.model_init_kwargs == {"dtype": "bfloat16"}
    assert gpu.args.use_cpu is False
    fp16 = load_config("tiny", ["--fp16", "true"])  # what the user set wins over the device's choice
    assert fp16.args.bf16 is False and fp16.args.model_init_kwargs == {"dtype": "float16"}
    mine = load_config("tiny", {"model_init_kwargs": {"attn_implementation": "sdpa"}})
    assert mine.args.model_init_kwargs == {"attn_implementation": "sdpa"}


def test_config_flag_with_equals_or_space_and_resume_reads_the_run(tmp_path):
    a = train_settings(["--config=tiny", "--max_steps", "3"])
    b = train_settings(["--config", "tiny", "--max_steps=3"])
    assert a.recipe == b.recipe == "tiny" and a.args.max_steps == b.args.max_steps == 3
    with pytest.raises(UserError, match="no recipe: pass --config mini-r1"):
        train_settings(["--max_steps", "3"])
    run = tmp_path / "run"
    run.mkdir()
    runs.mark(run)
    (run / "config.yaml").write_text(yaml.safe_dump({"recipe": "tiny", "model": "tiny", "max_steps": 4,
                                                     "output_dir": "elsewhere"}))
    resumed = train_settings(["--resume", "--output_dir", str(run), "--max_steps", "6"])
    assert resumed.resume and resumed.args.max_steps == 6 and resumed.run_dir == run and resumed.recipe == "tiny"
    for flag in (["--resume=true"], ["--resume", "yes"]):
        assert train_settings([*flag, f"--output_dir={run}"]).run_dir == run
    assert not train_settings(["--resume", "f", "--config", "tiny"]).resume  # false: a new run of the recipe
    with pytest.raises(UserError, match="none is not a minir1 run folder .*nothing to resume"):
        train_settings(["--resume", "--output_dir", str(tmp_path / "none")])
    (run / ".minir1-run").unlink()  # a config.yaml alone is not a run
    with pytest.raises(UserError, match="run is not a minir1 run folder .*nothing to resume"):
        train_settings(["--resume", "--output_dir", str(run)])


def test_a_bundled_recipe_name_is_never_a_file_of_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("tiny").write_text("max_steps: 99\n")
    Path("tiny.yaml").write_text("max_steps: 77\n")
    assert load_config("tiny").args.max_steps == 4  # the bundled recipe
    assert load_config("tiny.yaml").args.max_steps == 77  # a path: it ends in .yaml
    with pytest.raises(UserError, match="recipe file not found: nope.yaml"):
        load_config("nope.yaml")
    Path("mine").write_text("max_steps: 1\n")
    with pytest.raises(UserError, match="unknown recipe 'mine'.*to use the file mine, name it with .yaml"):
        load_config("mine")


@pytest.mark.parametrize(
    "where, settings, message",
    [
        ("yaml", "max_stpes: 3\n", "unknown setting 'max_stpes' (did you mean 'max_steps'?)"),
        ("yaml", "max_steps: three\n", "r.yaml: argument --max_steps: invalid int value: 'three'"),
        ("yaml", "max_steps: 2.5\n", "r.yaml: argument --max_steps: invalid int value: '2.5'"),
        ("yaml", "max_steps: true\n", "r.yaml: argument --max_steps: invalid int value: 'true'"),
        ("yaml", "lora: maybe\n", "r.yaml: argument --lora: Truthy value expected: got maybe"),
        ("yaml", "reward_weights: [1, x]\n", "r.yaml: argument --reward_weights: invalid float value: 'x'"),
        ("yaml", "- a\n- b\n", "expected a mapping of settings"),
        ("yaml", "a: [\n", "not valid YAML at line"),
        ("yaml", "trl_args:\n  top_k: 5\n", "'trl_args' is not a setting any more: use top-level settings"),
        ("yaml", "warmup_ratio: 0.1\n", "use warmup_steps (a value below 1 is a fraction"),
        ("cli", ["--learnig_rate", "1"], "command line: unknown setting 'learnig_rate' (did you mean 'learning_rate'?)"),
        ("cli", ["--gradient_checkpoint", "false"], "(did you mean 'gradient_checkpointing'?)"),
        ("cli", ["--lora", "maybe"], "argument --lora: Truthy value expected: got maybe"),
        ("cli", ["stray"], "unexpected argument 'stray'"),
        ("cli", ["--lr_scheduler_type", "cosinee"], "argument --lr_scheduler_type"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, where, settings, message):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(settings if where == "yaml" else "")
    with pytest.raises(UserError, match=re.escape(message)) as e:
        load_config(str(recipe), settings if where == "cli" else None)
    assert "\n" not in str(e.value)


def test_recipe_lists_are_typed_item_by_item_and_flags_work_bare(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("rewards: [correctness, format_rubric]\nreward_weights: [1e-1, 2]\noutput_dir: null\n")
    cfg = load_config(str(recipe))
    assert cfg.args.reward_weights == [0.1, 2.0] and all(type(w) is float for w in cfg.args.reward_weights)
    assert cfg.args.output_dir == "runs/r"  # null: the recipe's own folder, not TRL's trainer_output
    bare = load_config("tiny", ["--gradient_checkpointing", "--use_cpu"])
    assert bare.args.activation_checkpointing is True and bare.args.use_cpu is True


def test_tokens_are_never_saved_and_asked_values_reload_as_asked(tmp_path):
    cfg = load_config("tiny", {"hub_token": "hf_secret", "include_num_input_tokens_seen": True, "top_k": 5})
    save_config(cfg, tmp_path / "config.yaml")
    text = (tmp_path / "config.yaml").read_text()
    assert "hf_secret" not in text and "hub_token" not in text
    again = load_config(str(tmp_path / "config.yaml"))
    assert again.args.top_k == 5 and again.args.include_num_input_tokens_seen == cfg.args.include_num_input_tokens_seen


def test_text_values_stay_text_through_the_parser(tmp_path):
    texts = ["Answer: in tags", "# Rules: think first", "Think step by step # then answer", "-- a dash", "123",
             "a: b\nsecond line"]
    for text in texts:
        assert load_config("tiny", ["--system_prompt", text]).system_prompt == text
        assert load_config("tiny", [f"--system_prompt={text}"]).system_prompt == text
        assert load_config("tiny", {"system_prompt": text}).system_prompt == text
        recipe = tmp_path / "r.yaml"
        recipe.write_text(yaml.safe_dump({"system_prompt": text}))
        assert load_config(str(recipe)).system_prompt == text
    assert load_config("tiny", ["--model", "123"]).model == "123"


def test_every_recipe_loads_and_validates(fake_vllm):
    """All recipes, found recursively, load and pass validation; each names the command that runs it."""
    names = list_recipes()
    assert {"tiny", "mini-r1", "grpo-demo"} <= set(names)
    for name in names:
        args = validate(load_config(name))
        import yaml

        asked = yaml.safe_load((RECIPES / f"{name}.yaml").read_text()).get("activation_checkpointing", False)
        # minir1's default is off, though TRL's is on; a recipe that turns it on gets it on
        assert args.activation_checkpointing is asked and args.gradient_checkpointing is asked, name
        first = (RECIPES / f"{name}.yaml").read_text().splitlines()[0]
        assert first == f"# minir1 train --config {name}", "each recipe starts with the command that runs it"


def test_the_grpo_demo_recipe_trains_by_epochs_with_a_warmup_ratio(fake_vllm):
    args = validate(load_config("grpo-demo"))
    assert (args.max_steps, args.num_train_epochs, args.warmup_steps) == (-1, 1.0, 0.1)
    assert (args.adam_beta1, args.adam_beta2, args.lr_scheduler_type.value) == (0.9, 0.99, "cosine")


def test_mini_r1_recipe_is_the_seed():
    cfg = load_config("mini-r1")
    assert (cfg.model, cfg.lora_r, cfg.lora_alpha, cfg.style) == ("Qwen/Qwen2.5-0.5B-Instruct", 16, 32, "think")
    assert cfg.reward_points == {"format_rubric": 13.0, "correctness": 10.0}


# --- what TRL receives: every recipe x every override x three ways of giving it ---------------------

# (settings asked, what TRL's GRPOConfig holds for them when it differs from the asked value)
OVERRIDES = [
    ({"gradient_checkpointing": True}, {"activation_checkpointing": True}),
    ({"gradient_checkpointing": False}, {"activation_checkpointing": False}),
    ({"activation_checkpointing": True}, {"gradient_checkpointing": True}),
    ({"bf16": False}, {}),
    ({"use_cpu": True}, {}),
    ({"tf32": False}, {}),
    ({"num_train_epochs": 2.0, "max_steps": -1}, {}),
    ({"num_train_epochs": 0.5}, {}),
    ({"warmup_steps": 0.1}, {}),
    ({"warmup_steps": 5}, {}),
    ({"log_completions": True}, {}),
    ({"top_k": 50}, {}),
    ({"min_p": 0.05}, {}),
    ({"learning_rate": 1e-5}, {}),
    ({"learning_rate": 3.5e-7}, {}),
    ({"seed": 7, "data_seed": 3}, {}),
    ({"temperature": 0.7, "top_p": 0.95}, {}),
    ({"lr_scheduler_type": "cosine"}, {}),
    ({"adam_beta2": 0.99, "weight_decay": 0.1}, {}),
    ({"epsilon": 0.1, "epsilon_high": 0.28}, {}),
    ({"loss_type": "grpo", "scale_rewards": "batch"}, {}),
    ({"num_iterations": 2, "mask_truncated_completions": True}, {}),
    ({"steps_per_generation": 2}, {}),
    ({"max_completion_length": 64}, {}),
    ({"save_steps": 5, "save_total_limit": 1, "logging_steps": 2}, {}),
    ({"report_to": "tensorboard"}, {"report_to": ["tensorboard"]}),
    ({"use_vllm": False}, {}),
    ({"disable_dropout": True, "shuffle_dataset": False}, {}),
    ({"model_init_kwargs": {"dtype": "float32", "attn_implementation": "sdpa"}}, {}),
    ({"lora_dropout": 0.1, "lora_r": 4}, {}),  # minir1's own: read by minir1, checked on cfg
    ({"system_prompt": "Answer: in tags # then think"}, {}),
    ({"prefill": "<think>\n"}, {}),
    # TRL's own defaults where minir1 chooses otherwise: a saved run must keep them
    ({"save_total_limit": None}, {}),
    ({"learning_rate": 1e-6, "lr_scheduler_type": "linear"}, {}),
    ({"logging_steps": 500}, {}),
]


def as_tokens(settings: dict) -> list[str]:
    """The command line a user would type for ``settings``."""
    out = []
    for key, value in settings.items():
        if isinstance(value, bool):
            out += [f"--{key}", "true" if value else "false"]
        elif isinstance(value, dict):
            out += [f"--{key}", json.dumps(value)]
        elif isinstance(value, list):
            out += [f"--{key}", *map(str, value)]
        else:
            out += [f"--{key}", str(value)]
    return out


def received(args, cfg, key):
    value = getattr(args, key) if hasattr(args, key) else getattr(cfg, key)
    return getattr(value, "value", value)  # TRL turns scheduler and strategy names into enums


def test_trl_receives_exactly_what_was_asked(fake_vllm, tmp_path, capsys):
    from minir1.config import ALIASES

    def _over(lower, upper):  # one name of the checkpointing setting replaces the lower layer's other
        if any(a in upper for a in ALIASES):
            lower = {k: v for k, v in lower.items() if k not in ALIASES}
        return {**lower, **upper}

    checked = 0
    for name in list_recipes():
        recipe = yaml.safe_load((RECIPES / f"{name}.yaml").read_text())
        for asked, changed in OVERRIDES:
            merged = _over(recipe, asked)  # one name of the checkpointing setting replaces the recipe's other
            written = tmp_path / f"{name}.yaml"
            written.write_text(yaml.safe_dump(merged))
            routes = {"command line": load_config(name, as_tokens(asked)), "dict": load_config(name, asked),
                      "recipe": load_config(str(written))}
            saved = tmp_path / f"{name}-run-config.yaml"  # what a run folder keeps, read back as resume does
            save_config(routes["dict"], saved)
            routes["saved run config"] = load_config(str(saved))
            for route, cfg in routes.items():
                args = validate(cfg)  # as train() builds the trainer's arguments
                expected = {**merged, **changed}
                expected.pop("recipe", None)
                for key, value in expected.items():
                    if key == "lora_target_modules":
                        value = [value] if isinstance(value, str) else value
                    got = received(args, cfg, key)
                    assert got == value and type(got) is type(value) or (
                        isinstance(value, int) and isinstance(got, float) and got == value), (
                        f"{name} / {route} / {asked}: {key} reached TRL as {got!r}, asked {value!r}")
                if "gradient_checkpointing" not in asked and "activation_checkpointing" not in asked:
                    on = merged.get("activation_checkpointing", False)
                    assert args.gradient_checkpointing is on and args.activation_checkpointing is on
                checked += 1
    with capsys.disabled():
        print(f"\nround trip: {checked} recipe x override x route combinations (routes: command line, dict, recipe file, saved run config), TRL received what was asked in each")
    assert checked == len(list_recipes()) * len(OVERRIDES) * 4


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, message",
    [
        # GRPOConfig's own checks, its message in one line
        ({"num_generations": 1}, "TRL refused the settings: GRPO requires at least 2 generations per prompt"),
        ({"num_generations": 0}, "num_generations must be at least 1, got 0"),
        ({"num_generations": None}, "num_generations must be at least 1, got None"),
        ({"per_device_train_batch_size": 6, "num_generations": 4},
         "generation_batch_size \\(6\\) must be divisible by num_generations \\(4\\)"),
        ({"generation_batch_size": 12, "per_device_train_batch_size": 8},
         "generation_batch_size \\(12\\) must be divisible by the global batch size \\(8\\)"),
        ({"generation_batch_size": 16, "steps_per_generation": 2}, "can not be both configured"),
        ({"rewards": ["correctnes"]}, "unknown reward 'correctnes'"),
        ({"rewards": ["correctness"], "reward_weights": [1, 2]}, "one weight per reward"),
        ({"reward_weights": [1]}, "got 1 reward weights for the 2 rewards of scheme 'mini-r1'"),
        ({"reward_weights": [1, float("nan")]}, "each reward weight must be a finite number, got nan"),
        ({"max_completion_length": 4}, "too short"),
        ({"temperature": 0}, "temperature must be a number above 0"),
        ({"temperature": float("nan")}, "temperature must be a number above 0, got nan"),
        ({"learning_rate": float("inf")}, "learning_rate must be a number above 0, got inf"),
        ({"learning_rate": float("nan")}, "learning_rate must be a number above 0, got nan"),
        ({"learning_rate": -1e-5}, "learning_rate must be a number above 0"),
        ({"lora_dropout": 2}, "lora_dropout must be a number at least 0 and below 1, got 2"),
        ({"warmup_steps": -1}, "warmup_steps must be a number at least 0"),
        ({"max_grad_norm": -1}, "max_grad_norm must be a number at least 0"),
        ({"epsilon": -0.2}, "epsilon \\(the clipping range\\) must be a number at least 0"),
        ({"top_p": 1.5}, "top_p must be a number above 0 and at most 1"),
        ({"top_k": -1}, "top_k must be at least 0, got -1 \\(0 is off"),
        ({"data_limit": -3}, "data_limit must be at least 1, got -3 \\(leave it unset, or null, for all problems\\)"),
        ({"data_limit": 0}, "data_limit must be at least 1, got 0"),
        ({"eval_limit": 0}, "eval_limit must be at least 1, got 0"),
        ({"max_solution_steps": 0}, "max_solution_steps must be at least 1, got 0"),
        ({"max_steps": 0}, "max_steps must be at least 1, or -1 to train for num_train_epochs"),
        ({"max_steps": -1, "num_train_epochs": 0}, "num_train_epochs must be a number above 0"),
        ({"sample_every": -1}, "sample_every must be at least 0, got -1 \\(0 turns it off\\)"),
        ({"scheme": "r2"}, "unknown reward scheme 'r2'"),
        ({"tag_style": "xml"}, "unknown tag style 'xml'"),
        ({"report_to": "mlflow"}, "report_to 'mlflow'"),
        ({"report_to": "trackio"}, "pip install trackio"),
        ({"push_final_to": "no-slash"}, "push_final_to must be a Hub repository id"),
        ({"gradient_checkpointing": True, "activation_checkpointing": False}, "disagree"),
        ({"auto_find_batch_size": True}, "TRL refused the settings: auto_find_batch_size is not supported by GRPO"),
    ],
)
def test_validation_explains_and_suggests(settings, message):
    with pytest.raises(UserError, match=message) as e:
        validate(load_config("tiny", settings))
    assert "\n" not in str(e.value)


def test_null_limits_mean_all_problems():
    validate(load_config("tiny", {"data_limit": None, "eval_limit": None}))
    assert load_config("tiny", {"data_limit": None}).data_limit is None


def test_missing_vllm_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(UserError, match=r"pip install 'minir1\[vllm\]'"):
        validate(load_config("grpo-demo"))


def test_vllm_server_mode_checks_the_server_and_prints_its_launch_command(fake_vllm):
    cfg = load_config("grpo-demo", {"vllm_mode": "server", "vllm_server_port": 1})
    with pytest.raises(UserError, match="trl vllm-serve --model Qwen/Qwen2.5-0.5B-Instruct --port 1"):
        validate(cfg)


def test_vllm_server_must_serve_the_training_model(fake_vllm):
    """A fake OpenAI-compatible server on loopback names its model at /v1/models, as `trl vllm-serve` does."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"data": [{"id": "other/model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        server_settings = {"vllm_mode": "server", "vllm_server_host": "127.0.0.1", "vllm_server_port": port}
        with pytest.raises(UserError, match="serves 'other/model' but training uses 'Qwen/Qwen2.5-0.5B-Instruct'"):
            validate(load_config("grpo-demo", server_settings))
        validate(load_config("grpo-demo", {**server_settings, "model": "other/model"}))
    finally:
        server.shutdown()


def test_eval_during_training_is_refused_with_sharded_weights(monkeypatch):
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "3")
    with pytest.raises(UserError, match="ZeRO-3 shards them"):
        validate(load_config("tiny", {"eval_every": 10}))
    validate(load_config("tiny"))


def test_help_lists_minir1_settings_and_points_to_every_trl_field(capsys):
    from trl import GRPOConfig

    from minir1.cli import main
    from minir1.config import TrainConfig

    assert main(["train", "--help"]) == 0
    short = capsys.readouterr().out
    for name, f in TrainConfig.__dataclass_fields__.items():
        assert (f"--{name}" in short) == f.init, name
    assert "minir1 train --help-all" in short and "--top_k" not in short.split("TRL settings minir1 chooses")[0]
    assert main(["train", "--help-all"]) == 0
    full = capsys.readouterr().out
    for name, f in GRPOConfig.__dataclass_fields__.items():
        if f.init:
            assert f"--{name}" in full, name


def minir1(*args):
    return subprocess.run([sys.executable, "-m", "minir1", *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "tiny", "--num_generations", "3"], "must be divisible by num_generations (3)"),
        (["--config=nope"], "unknown recipe 'nope'"),
        (["--config", "tiny", "--model", "/no/such/model"], "model not found: /no/such/model"),
        (["--config", "tiny", "--data", "/no/such.jsonl"], "data file not found: /no/such.jsonl"),
        (["--config", "tiny", "--resume"],
         "is not a minir1 run folder (no .minir1-run, which minir1 train writes): nothing to resume"),
        (["--config", "tiny", "--data_limit", "-3"], "data_limit must be at least 1, got -3"),
        (["--config", "tiny", "--lora_target_modules", "bogus_proj"], "the model has no module named 'bogus_proj'"),
    ],
)
def test_train_cli_errors_are_one_line_before_any_model_loads(tmp_path, args, message):
    r = minir1("train", *args, "--output_dir", str(tmp_path / "run"))
    assert r.returncode == 2
    assert r.stderr.startswith("minir1: error: ") and message in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists(), "nothing is written before every check has passed"


def test_an_output_dir_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine\n")
    r = minir1("train", "--config", "tiny", "--output_dir", str(target), "--overwrite")
    assert r.returncode == 2 and f"{target} is a file, not a folder" in r.stderr and r.stderr.count("\n") == 1
    assert target.read_text() == "mine\n"
    r = minir1("train", "--config", "tiny", "--output_dir", str(target / "run"))
    assert r.returncode == 2 and f"is inside {target}, which is a file" in r.stderr and r.stderr.count("\n") == 1


def test_finite_checks_reject_every_spelling_of_nan():
    for text in ("nan", "NaN", "inf", "-inf"):
        with pytest.raises(UserError, match="learning_rate must be a number above 0"):
            validate(load_config("tiny", [f"--learning_rate={text}"]))
    with pytest.raises(UserError, match="temperature must be a number above 0, got nan"):
        load_config("tiny", ["--temperature", "nan"])  # refused as the settings are built


def test_the_mini_r1_prompt_is_the_measured_worked_example_prompt():
    """The recipe's prompt is exactly the one the cold start measured (bench/real_cold_start.py, `example`)."""
    from minir1.data import load_problems
    from minir1.prompts import get_style, with_worked_example

    prompt = load_config("mini-r1").system_prompt
    assert prompt == with_worked_example(load_problems("gsm8k:train", limit=1)[0], "think")
    assert prompt.startswith(get_style("think").system_prompt + "\n\nExample.\n")


@pytest.mark.parametrize("targets", [["q_proj"], ["q_proj", "v_proj"], ["all-linear"]])
def test_lora_settings_reach_peft(targets):
    """The LoraConfig the trainer gets carries the asked rank, alpha, dropout and targets; one named module
    matches that module in every layer (a bare string would be a pattern that must match the whole name)."""
    from peft.tuners.tuners_utils import check_target_module_exists

    from minir1.train import lora_config

    cfg = load_config("tiny", {"lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "lora_target_modules": targets})
    peft = lora_config(cfg)
    assert (peft.r, peft.lora_alpha, peft.lora_dropout) == (8, 16, 0.05)
    if targets == ["all-linear"]:
        assert peft.target_modules == "all-linear"
    else:
        assert peft.target_modules == set(targets)
        assert check_target_module_exists(peft, "model.layers.3.self_attn.q_proj")
        assert not check_target_module_exists(peft, "model.layers.3.self_attn.k_proj")
    assert lora_config(load_config("tiny", {"lora": False})) is None
