"""Adapters between agentgym envs and other ecosystems (MCP, OpenEnv-style HTTP, single-turn datasets)."""
