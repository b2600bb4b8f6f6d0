"""Configuration: precedence, types, unknown keys, every recipe, and validation in plain words."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from minir1.config import TrainConfig, grpo_kwargs, list_recipes, load_config, parse_overrides, validate
from minir1.errors import UserError


def test_defaults_then_recipe_then_command_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("max_steps: 7\nlearning_rate: 1\nlora: false\n")
    cfg = load_config(str(recipe), ["--max_steps", "9", "--rewards", "[correctness]", "--reward_weights=[2]"])
    assert (cfg.max_steps, cfg.learning_rate, cfg.lora, cfg.num_generations) == (9, 1.0, False, 8)
    assert isinstance(cfg.learning_rate, float)
    assert cfg.reward_names == ["correctness"] and cfg.weights == [2.0] and cfg.recipe == "r"


def test_derived_values_come_from_the_scheme():
    cfg = load_config(None, {"scheme": "grpo-demo"})
    assert cfg.style == "reasoning" and cfg.weights == [0.5, 0.5, 0.5, 0.5, 2.0]
    assert cfg.resolved()["tag_style"] == "reasoning" and cfg.resolved()["output_dir"] == "runs/run"


def test_flags_and_text_values():
    assert parse_overrides(["--resume", "--model", "123", "--lora=false"]) == {"resume": True, "model": "123",
                                                                               "lora": False}


@pytest.mark.parametrize(
    "where, settings, message",
    [
        ("yaml", "max_stpes: 3\n", "unknown setting 'max_stpes' (did you mean 'max_steps'?)"),
        ("yaml", "max_steps: three\n", "max_steps must be an integer, got 'three'"),
        ("yaml", "- a\n- b\n", "expected a mapping of settings"),
        ("yaml", "a: [\n", "not valid YAML at line"),
        ("cli", ["--learnig_rate", "1"], "command line: unknown setting 'learnig_rate' (did you mean 'learning_rate'?)"),
        ("cli", ["--lora", "maybe"], "lora must be true/false"),
        ("cli", ["stray"], "unexpected argument 'stray'"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, where, settings, message):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(settings if where == "yaml" else "")
    with pytest.raises(UserError, match=re.escape(message)):
        load_config(str(recipe), settings if where == "cli" else None)


def test_every_recipe_loads_and_validates(monkeypatch):
    """All recipes, found recursively, load and pass validation (vLLM's presence faked for grpo-demo)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    names = list_recipes()
    assert {"tiny", "mini-r1", "grpo-demo"} <= set(names)
    for name in names:
        cfg = load_config(name)
        validate(cfg)
        first = (Path(__file__).parents[1] / "src/minir1/recipes" / f"{name}.yaml").read_text().splitlines()[0]
        assert first == f"# minir1 train --config {name}", "each recipe starts with the command that runs it"


def test_mini_r1_recipe_is_the_seed():
    cfg = load_config("mini-r1")
    assert (cfg.model, cfg.lora_r, cfg.lora_alpha, cfg.style) == ("Qwen/Qwen2.5-0.5B-Instruct", 16, 32, "think")
    assert cfg.reward_points == {"format_rubric": 13.0, "correctness": 10.0}


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"num_generations": 1}, "needs at least 2"),
        ({"per_device_train_batch_size": 6, "num_generations": 4},
         "6 completions, which is not a whole number of groups of num_generations=4.*--per_device_train_batch_size 8"),
        ({"generation_batch_size": 12, "per_device_train_batch_size": 8}, "must be a multiple of the global batch"),
        ({"rewards": ["correctnes"]}, "unknown reward 'correctnes'"),
        ({"rewards": ["correctness"], "reward_weights": [1, 2]}, "one weight per reward"),
        ({"reward_weights": [1]}, "got 1 reward weights for the 2 rewards of scheme 'mini-r1'"),
        ({"max_completion_length": 4}, "too short"),
        ({"temperature": 0}, "temperature must be positive"),
        ({"scheme": "r2"}, "unknown reward scheme 'r2'"),
        ({"tag_style": "xml"}, "unknown tag style 'xml'"),
        ({"trl_args": {"betta": 0.1}}, "'betta' is not a GRPOConfig field \\(did you mean 'beta'\\?\\)"),
        ({"trl_args": {"beta": 0.1}}, "use --beta instead"),
        ({"trl_args": {"bf16": True}}, "minir1 sets it"),
        ({"report_to": "mlflow"}, "report_to 'mlflow'"),
        ({"report_to": "trackio"}, "pip install trackio"),
        ({"push_to_hub": True}, "--hub_model_id"),
    ],
)
def test_validation_explains_and_suggests(settings, message):
    with pytest.raises(UserError, match=message):
        validate(load_config("tiny", settings))


def test_missing_vllm_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(UserError, match=r"pip install 'minir1\[vllm\]'"):
        validate(load_config("grpo-demo"))


def test_vllm_server_mode_checks_the_server_and_prints_its_launch_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    cfg = load_config("grpo-demo", {"vllm_mode": "server", "vllm_server_port": 1})
    with pytest.raises(UserError, match="trl vllm-serve --model Qwen/Qwen2.5-0.5B-Instruct --port 1"):
        validate(cfg)


def test_vllm_server_must_serve_the_training_model(monkeypatch):
    """A fake OpenAI-compatible server on loopback names its model at /v1/models, as `trl vllm-serve` does."""
    import http.server
    import json
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
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    try:
        port = server.server_address[1]
        cfg = load_config("grpo-demo", {"vllm_mode": "server", "vllm_server_port": port})
        with pytest.raises(UserError, match="serves 'other/model' but training uses 'Qwen/Qwen2.5-0.5B-Instruct'"):
            validate(cfg)
        validate(load_config("grpo-demo", {"vllm_mode": "server", "vllm_server_port": port, "model": "other/model"}))
    finally:
        server.shutdown()


def test_eval_during_training_is_refused_with_sharded_weights(monkeypatch):
    monkeypatch.setenv("ACCELERATE_DEEPSPEED_ZERO_STAGE", "3")
    with pytest.raises(UserError, match="ZeRO-3 shards them"):
        validate(load_config("tiny", {"eval_every": 10}))
    validate(load_config("tiny"))


def test_grpo_kwargs_pick_precision_by_device_and_pass_trl_args():
    cfg = load_config("tiny", {"trl_args": {"top_k": 5}})
    cpu = grpo_kwargs(cfg, on_gpu=False, bf16_ok=False)
    assert cpu["use_cpu"] and not cpu["bf16"] and cpu["model_init_kwargs"]["dtype"] == "float32"
    gpu = grpo_kwargs(cfg, on_gpu=True, bf16_ok=True)
    assert gpu["bf16"] and not gpu["use_cpu"] and gpu["model_init_kwargs"]["dtype"] == "bfloat16"
    assert cpu["top_k"] == 5 and cpu["reward_weights"] == [13.0, 10.0]
    from trl import GRPOConfig

    GRPOConfig(**cpu)  # TRL accepts what we build


def minir1(*args):
    return subprocess.run([sys.executable, "-m", "minir1", *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--config", "tiny", "--num_generations", "3"], "not a whole number of groups"),
        (["--config", "nope"], "unknown recipe 'nope'"),
        (["--config", "tiny", "--model", "/no/such/model"], "model not found: /no/such/model"),
        (["--config", "tiny", "--data", "/no/such.jsonl"], "data file not found: /no/such.jsonl"),
        (["--config", "tiny", "--resume"], "nothing to resume in"),
        (["--max_steps", "3"], "no recipe: pass --config mini-r1"),
    ],
)
def test_train_cli_errors_are_one_line_before_any_model_loads(tmp_path, args, message):
    r = minir1("train", *args, "--output_dir", str(tmp_path / "run"))
    assert r.returncode == 2
    assert r.stderr.startswith("minir1: error: ") and message in r.stderr and r.stderr.count("\n") == 1


def test_an_existing_run_folder_is_not_overwritten(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("{}\n")
    r = minir1("train", "--config", "tiny", "--output_dir", str(run))
    assert r.returncode == 2 and "already exists: pass --overwrite" in r.stderr
    assert (run / "metrics.jsonl").read_text() == "{}\n"


def test_train_help_lists_every_setting():
    r = minir1("train", "--help")
    assert r.returncode == 0
    for name in TrainConfig.__dataclass_fields__:
        assert f"--{name}" in r.stdout
