"""The `rpt` env (Reinforcement Pre-Training: next-token reasoning), registered through the `agentgym.envs` entry point."""

from agentgym.envs.rpt.env import RptEnv
from agentgym.envs.rpt.verify import extract_boxed, score_prediction

__all__ = ["RptEnv", "extract_boxed", "score_prediction"]
