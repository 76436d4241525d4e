"""`agentgym serve ENV --http PORT | --mcp`: serve a registered env to other processes.

Over HTTP the default protocol is OpenEnv's (openenv-core's own server, WebSocket sessions at /ws, with agentgym's
plain JSON API under /agentgym on the same port); ``--protocol plain`` serves only the plain API, standard library only.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Optional

import typer

from agentgym.app.console import friendly
from agentgym.errors import AgentGymError
from agentgym.registry import make
from agentgym.taskio import load_tasks


def serve_command(env: str, *, http_port: int | None, use_mcp: bool, host: str = "127.0.0.1",
                  tasks: Path | None = None, max_sessions: int = 64, protocol: str = "openenv") -> None:
    """Serve `env` over HTTP (until Ctrl-C) or over MCP on stdin/stdout (until the client disconnects)."""
    if (http_port is None) == (not use_mcp):
        raise AgentGymError("choose one transport: --http PORT or --mcp")
    if use_mcp:
        from agentgym.app.mcp_server import serve_mcp

        serve_mcp(make(env), load_tasks(tasks) if tasks else None)  # stdout is the MCP channel: print nothing
        return
    if protocol not in ("openenv", "plain"):
        raise AgentGymError(f"--protocol must be 'openenv' or 'plain', got {protocol!r}")
    if tasks is not None and protocol == "plain":
        raise AgentGymError("--tasks is for --mcp and --protocol openenv; plain HTTP clients send their own tasks "
                            "with POST /reset")
    try:
        if protocol == "openenv":
            from agentgym.app.openenv_server import serve_openenv

            server = serve_openenv(env, host=host, port=http_port or 0, max_sessions=max_sessions,
                                   tasks=load_tasks(tasks) if tasks else None)
            endpoints = "OpenEnv: ws /ws, POST /reset, POST /step, GET /schema; plain API under /agentgym"
        else:
            from agentgym.app.http_server import serve_http

            server = serve_http(env, host=host, port=http_port or 0, max_sessions=max_sessions)
            endpoints = "GET /health, POST /reset, POST /step"
    except OSError as e:
        raise AgentGymError(f"cannot listen on {host}:{http_port}: {e.strerror or e}") from None
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_cleanly)  # `kill` closes the envs (sandboxes, kernels) like Ctrl-C does
    print(f"serving env {env!r} at {server.url} ({endpoints}); Ctrl-C stops",
          file=sys.stderr, flush=True)
    try:
        server.wait()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.close()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


@friendly
def serve(
    env: str = typer.Argument(..., help="registered env name"),
    http: Optional[int] = typer.Option(None, "--http", min=0, max=65535, help="serve the HTTP reset/step API on PORT"),
    mcp: bool = typer.Option(False, "--mcp", help="serve the env as an MCP server on stdin/stdout"),
    host: str = typer.Option("127.0.0.1", help="HTTP address to listen on"),
    tasks: Optional[Path] = typer.Option(None, help="JSONL tasks a reset without a task picks from (MCP, OpenEnv)"),
    max_sessions: int = typer.Option(64, min=1, help="HTTP sessions (env instances) open at once"),
    protocol: str = typer.Option("openenv", help="HTTP protocol: 'openenv' (openenv-core's server, plus the plain "
                                                 "API under /agentgym) or 'plain' (standard library only)"),
) -> None:
    """Serve an env to other processes: OpenEnv or a plain reset/step API (--http PORT), or MCP (--mcp)."""
    serve_command(env, http_port=http, use_mcp=mcp, host=host, tasks=tasks, max_sessions=max_sessions,
                  protocol=protocol)
