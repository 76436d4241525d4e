"""Envs made from other ecosystems: MCP servers' tools, OpenEnv servers, agentgym HTTP envs, single-turn datasets.

These are clients: each wraps something outside as an agentgym `Env`. The other direction (serving an agentgym env
over OpenEnv, HTTP or MCP) is the application's job: `agentgym.app.openenv_server`, `agentgym.app.http_server` and
`agentgym.app.mcp_server`. The `mcp` SDK and openenv-core are imported only when their adapter is used
(``pip install 'agentgym-rl[mcp]'`` / ``'agentgym-rl[openenv]'``); the HTTP adapter uses the standard library alone.
"""

from agentgym.interop.dataset_env import DatasetEnv, dataset_env_factory
from agentgym.interop.http_env import HttpEnv, HttpEnvError
from agentgym.interop.mcp_connection import (
    MCPConnection,
    MCPConnectionError,
    MCPServerConfig,
)
from agentgym.interop.mcp_env import MCPToolsEnv, exact_match
from agentgym.interop.openenv_env import OpenEnvEnv, OpenEnvError

__all__ = [
    "DatasetEnv",
    "HttpEnv",
    "HttpEnvError",
    "MCPConnection",
    "MCPConnectionError",
    "MCPServerConfig",
    "MCPToolsEnv",
    "OpenEnvEnv",
    "OpenEnvError",
    "dataset_env_factory",
    "exact_match",
]
