"""The `arith` reference env, registered through the `agentgym.envs` entry point like any plugin."""

from agentgym.envs.arith.env import ArithEnv
from agentgym.envs.arith.tasks import generate_tasks

__all__ = ["ArithEnv", "generate_tasks"]
