"""User mistakes get one clear message: a bad task index for the gym adapter, a directory given as a task file."""

from __future__ import annotations

import pytest

import agentgym
from agentgym.errors import TaskFileError
from agentgym.gym import GymEnv
from agentgym.taskio import load_tasks


def test_gym_reset_with_out_of_range_task_index():
    env = GymEnv(agentgym.make("arith"), agentgym.make("arith").sample_tasks(3, seed=0))
    try:
        with pytest.raises(ValueError, match=r"^options\['task_index'\] must be in \[0, 3\), got 99$"):
            env.reset(seed=0, options={"task_index": 99})
        obs, info = env.reset(seed=0, options={"task_index": 2})
        assert info["task_id"] == "arith-0-2"
    finally:
        env.close()


def test_load_tasks_on_a_directory(tmp_path):
    with pytest.raises(TaskFileError, match=r"is a directory; pass a JSONL file with one task per line$"):
        load_tasks(tmp_path)
