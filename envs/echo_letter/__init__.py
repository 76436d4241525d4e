"""The `echo_letter` toy env: the smallest task on which GRPO learning is visible."""

from agentgym.envs.echo_letter.env import LETTERS, EchoLetterEnv

__all__ = ["LETTERS", "EchoLetterEnv"]
