"""Adapters between agentgym envs and other ecosystems (MCP, OpenEnv-style HTTP, single-turn datasets).

Each adapter is optional: the `mcp` SDK is imported only when an MCP adapter is used (``pip install 'agentgym-rl[mcp]'``),
and the HTTP adapters use the standard library alone.
"""

from agentgym.interop.dataset_env import DatasetEnv, dataset_env_factory
from agentgym.interop.http_env import HttpEnv, HttpEnvError
from agentgym.interop.http_server import EnvHttpServer, serve_http
from agentgym.interop.mcp_connection import (
    MCPConnection,
    MCPConnectionError,
    MCPServerConfig,
)
from agentgym.interop.mcp_env import MCPToolsEnv, exact_match
from agentgym.interop.mcp_server import build_mcp_server, serve_mcp

__all__ = [
    "DatasetEnv",
    "EnvHttpServer",
    "HttpEnv",
    "HttpEnvError",
    "MCPConnection",
    "MCPConnectionError",
    "MCPServerConfig",
    "MCPToolsEnv",
    "build_mcp_server",
    "dataset_env_factory",
    "exact_match",
    "serve_http",
    "serve_mcp",
]
