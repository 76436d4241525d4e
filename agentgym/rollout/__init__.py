"""The agent loop and the policies that drive it (scripted, OpenAI-compatible HTTP, the embedded engine)."""

from agentgym.rollout.budget import BudgetConfig
from agentgym.rollout.context import ContextConfig
from agentgym.rollout.jsonl import TrajectoryWriter, read_trajectories
from agentgym.rollout.loop import run_episode
from agentgym.rollout.policy import Policy, PolicyStep
from agentgym.rollout.runner import RolloutConfig, run_episodes
from agentgym.rollout.scripted import ScriptedPolicy

__all__ = [
    "BudgetConfig",
    "ContextConfig",
    "Policy",
    "PolicyStep",
    "RolloutConfig",
    "ScriptedPolicy",
    "TrajectoryWriter",
    "read_trajectories",
    "run_episode",
    "run_episodes",
]
