"""The `code_repair` env: fix a bug in a real Python repository; graded by FAIL_TO_PASS / PASS_TO_PASS tests."""

from agentgym.envs.code_repair.env import CodeRepairEnv
from agentgym.envs.code_repair.gold import gold_edits
from agentgym.envs.code_repair.fixture import fixture_tasks
from agentgym.envs.code_repair.taskdata import HIDDEN_FIELDS, RepoTaskData, parse_task_data

__all__ = ["HIDDEN_FIELDS", "CodeRepairEnv", "RepoTaskData", "fixture_tasks", "gold_edits", "parse_task_data"]
