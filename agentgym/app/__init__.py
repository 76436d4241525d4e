"""The application wing: the `agentgym` command line, the quickstart, the V3.2 recipe and the env servers.

This is the only package that may import every layer (docs/architecture.md); no layer imports it.
"""
