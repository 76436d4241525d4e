"""The `general` env: synthesized environments (SQLite DB + generated tools) with verifier-scored JSON answers."""

from agentgym.envs.general.env import GeneralEnv
from agentgym.envs.general.folder import EnvFolderError

__all__ = ["EnvFolderError", "GeneralEnv"]
