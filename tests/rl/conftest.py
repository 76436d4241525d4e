"""Shared helpers for the RL tests: the toy GRPO config on the tiny preset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agentgym.rl.config import TrainConfig, parse_config


def toy_config(out_dir: str, **changes: Any) -> TrainConfig:
    """The echo-letter GRPO run on the tiny preset (MLA + MoE + DSA) with a 16-token vocabulary."""
    data: dict[str, Any] = {
        "envs": [{"name": "echo", "num_tasks": 64}],
        "model": {"preset": "tiny", "overrides": {"vocab_size": 16}, "max_seq_len": 64},
        "sampling": {"max_new_tokens": 2, "max_turns": 1},
        "steps": 40, "groups_per_step": 8, "group_size": 8, "num_minibatches": 2,
        "techniques": {"normalize_std": True},
        "optim": {"lr": 3e-3}, "out_dir": out_dir, "progress": False,
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return parse_config(data)


@pytest.fixture
def make_toy_config() -> Callable[..., TrainConfig]:
    return toy_config
