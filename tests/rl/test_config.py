"""TrainConfig: YAML in, one clear message naming each bad key or value."""

from __future__ import annotations

import re

import pytest

from agentgym.rl.config import ConfigError, load_config, parse_config


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("envs:\n  - {name: arith, weight: 2, kl_beta: 0.01}\n  - {name: rpt}\n"
                    "loss: {importance_level: sequence, off_policy_threshold: 0.5}\nsteps: 3\n")
    config = load_config(path)
    assert [e.name for e in config.envs] == ["arith", "rpt"] and config.envs[0].kl_beta == 0.01
    assert config.loss.importance_level == "sequence" and config.steps == 3


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("envs: [{name: arith}]\noptim: {lr: 1e-5, lr_warmup: 3}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: optim.lr_warmup: unknown key")):
        load_config(path)


def test_bad_value_is_named():
    with pytest.raises(ConfigError) as info:
        parse_config({"envs": [{"name": "arith", "weight": -1}], "loss": {"aggregation": "mean"}})
    message = str(info.value)
    assert "envs.0.weight: Input should be greater than 0 (got -1)" in message
    assert "loss.aggregation:" in message and "'mean'" in message


def test_missing_envs_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="envs: Field required"):
        parse_config({})
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "x.yaml").write_text("envs: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "x.yaml")


def test_train_command_runs_a_yaml_config_on_a_registered_env(tmp_path):
    from agentgym.rl.jobs import train

    path = tmp_path / "arith.yaml"
    path.write_text("envs: [{name: arith, kwargs: {difficulty: 1}, num_tasks: 8}]\n"
                    "model: {preset: tiny, overrides: {vocab_size: 16, index_n_heads: 0}, max_seq_len: 256}\n"
                    "sampling: {max_new_tokens: 4, max_turns: 1}\n"
                    "steps: 1\ngroups_per_step: 2\ngroup_size: 2\nprogress: false\n"
                    "techniques: {dynamic_filtering: false}\n")
    records, run_dir = train(path, out_dir=str(tmp_path / "run"))
    assert len(records) == 1 and records[0]["num_episodes"] == 4 and records[0]["reward/arith"] == 0.0
    assert (run_dir / "checkpoints" / "step_000001" / "model.safetensors").is_file()
    assert (run_dir / "metrics.jsonl").read_text().count("\n") == 1
    assert (run_dir / "reward_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tensorboard_is_optional_with_a_clear_install_message(tmp_path):
    import importlib.util

    from agentgym.rl.metrics import MetricsLogger

    if importlib.util.find_spec("tensorboard") is None:
        with pytest.raises(ImportError, match=r"pip install 'agentgym-rl\[tensorboard\]'"):
            MetricsLogger(tmp_path, tensorboard=True)
    else:
        logger = MetricsLogger(tmp_path, tensorboard=True)
        logger.log(0, {"reward_mean": 0.5})
        logger.close()
        assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    plain = MetricsLogger(tmp_path / "plain")
    plain.log(0, {"reward_mean": 0.25})
    plain.log(1, {"reward_mean": 0.5})
    again = MetricsLogger(tmp_path / "plain", resume_step=1)  # a resumed run drops the steps it will redo
    assert [r["step"] for r in __import__("agentgym.rl.metrics", fromlist=["x"]).read_metrics(again.path)] == [0]


def test_memory_engine_packed_weights_reaches_the_engine():
    import torch
    from agentgym.model.config import get_preset
    from agentgym.model.transformer import Transformer
    from agentgym.rl.backends import engine_backend
    from agentgym.model.char_tokenizer import CharTokenizer

    model = Transformer(get_preset("tiny"))
    for packed in (True, False):
        config = parse_config({"envs": [{"name": "arith"}], "model": {"max_seq_len": 128},
                               "memory": {"engine_packed_weights": packed}})
        engine = engine_backend(config, model, CharTokenizer()).policy.engine
        assert engine.config.pack_weights is packed
    assert torch.is_tensor(model.output_weight)
