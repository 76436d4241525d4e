"""Envs made from other ecosystems: MCP servers' tools, OpenEnv-style HTTP envs, single-turn datasets.

These are clients: each wraps something outside as an agentgym `Env`. The other direction (serving an agentgym env
over HTTP or MCP) is the application's job: `agentgym.app.http_server` and `agentgym.app.mcp_server`.
The `mcp` SDK is imported only when an MCP adapter is used (``pip install 'agentgym-rl[mcp]'``); the HTTP adapter uses the
standard library alone.
"""

from agentgym.interop.dataset_env import DatasetEnv, dataset_env_factory
from agentgym.interop.http_env import HttpEnv, HttpEnvError
from agentgym.interop.mcp_connection import (
    MCPConnection,
    MCPConnectionError,
    MCPServerConfig,
)
from agentgym.interop.mcp_env import MCPToolsEnv, exact_match

__all__ = [
    "DatasetEnv",
    "HttpEnv",
    "HttpEnvError",
    "MCPConnection",
    "MCPConnectionError",
    "MCPServerConfig",
    "MCPToolsEnv",
    "dataset_env_factory",
    "exact_match",
]
