"""`serve_openenv`: an agentgym env behind `openenv-core`'s own server, so OpenEnv clients (TRL among them) train on it.

The app is openenv-core's (`openenv.core.env_server.create_app`): its WebSocket sessions at ``/ws`` (one env instance
per connection, at most `max_sessions` at once), ``/reset``, ``/step``, ``/state``, ``/schema``, ``/metadata`` and
``/health``. `agentgym.app.openenv_adapter` maps agentgym's contract onto its models. Beside it, under ``/agentgym``,
the same port answers agentgym's plain reset/step JSON API (`agentgym.app.http_server`), which `HttpEnv` plays.

One uvicorn server on a background thread runs it all on one event loop: an agentgym env's steps are coroutines, so
sessions interleave there without a thread each.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
import time
from typing import Any, Callable

from agentgym.app.http_server import MAX_BODY_BYTES, EnvService, answer, encode_reply, too_large
from agentgym.errors import require
from agentgym.registry import make

PLAIN_PREFIX = "/agentgym"


class PlainApi:
    """agentgym's plain JSON API (`EnvService`) as an ASGI app, to mount beside OpenEnv's routes."""

    def __init__(self, service: EnvService) -> None:
        self.service = service

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        raw, more = b"", True
        while more and len(raw) <= MAX_BODY_BYTES:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        if len(raw) > MAX_BODY_BYTES:
            status, payload = too_large(len(raw))
        else:
            status, payload = await asyncio.to_thread(answer, self.service, scope["method"], path or "/", raw)
        status, data = encode_reply(status, payload)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


class QuietDisconnects:
    """ASGI middleware: openenv's ``/ws`` handler closes a socket its client already closed, and starlette raises
    `WebSocketDisconnect` out of the app for it. A client hanging up is the normal end of a session, not an error."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        from starlette.websockets import WebSocketDisconnect

        try:
            await self.app(scope, receive, send)
        except WebSocketDisconnect:
            if scope["type"] != "websocket":
                raise


def openenv_app(make_env: Callable[[], Any], *, max_sessions: int = 64, tasks: list | None = None,
                plain_prefix: str | None = PLAIN_PREFIX) -> tuple[Any, EnvService | None, set]:
    """openenv-core's FastAPI app serving `make_env`'s envs, plus (unless `plain_prefix` is None) the plain API.

    Returns the app, the plain API's service (the caller closes it when the server stops) and the set of env closes
    still running (futures; the caller waits for them before stopping the server's loop).
    """
    require("openenv.core", "openenv", "Serving an env over the OpenEnv protocol")
    from openenv.core.env_server.http_server import create_app
    from pydantic import ConfigDict

    from agentgym.app.openenv_adapter import AgentGymAction, AgentGymEnvironment, AgentGymObservation, TaskPicker

    if not isinstance(max_sessions, int) or max_sessions < 1:
        raise ValueError(f"max_sessions must be a positive integer, got {max_sessions!r}")
    probe = make_env()  # a bad env name or config fails here, not on the first session
    name = str(getattr(probe, "name", "env"))
    tools = [t.model_dump(mode="json") for t in probe.tools()]
    asyncio.run(probe.close())
    # /schema shows the env's tools with the action model, so a client knows them before any reset
    action_cls = type("AgentGymAction", (AgentGymAction,), {"model_config": ConfigDict(
        json_schema_extra={"x-agentgym-env": name, "x-agentgym-tools": tools})})
    closing: set = set()
    factory = functools.partial(AgentGymEnvironment, make_env, TaskPicker(tasks), closing)
    app = create_app(factory, action_cls, AgentGymObservation, env_name=name, max_concurrent_envs=max_sessions)
    app.add_middleware(QuietDisconnects)
    service = None
    if plain_prefix is not None:
        service = EnvService(make_env, max_sessions=max_sessions)
        app.mount(plain_prefix, PlainApi(service))
    return app, service, closing


class OpenEnvServer:
    """A running OpenEnv server (uvicorn on a background thread). `close()` is idempotent.

    Attributes:
        url: e.g. ``"http://127.0.0.1:43121"``; openenv's ``EnvClient(base_url=url)`` connects to ``url + "/ws"``.
        port: the bound port (useful with ``port=0``).
        plain_url: the plain API's base URL for `HttpEnv` (None when it is not mounted).
    """

    def __init__(self, app: Any, service: EnvService | None, host: str, port: int, *, plain_prefix: str | None,
                 closing: set | None = None, startup_timeout_s: float = 30.0) -> None:
        import uvicorn

        self.service = service
        self.closing = closing if closing is not None else set()
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()
            if service is not None:
                service.close()
            raise
        self.host, self.port = host, self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.plain_url = None if plain_prefix is None else self.url + plain_prefix
        # log_level warning: one line per request would cost more than an arith step; backlog: 512 clients may
        # connect in the same instant.
        config = uvicorn.Config(app, log_level="warning", backlog=4096, ws_max_queue=64, timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="agentgym-openenv", daemon=True)
        self._thread.start()
        self.is_closed = False
        deadline = time.monotonic() + startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the OpenEnv server on {self.url} did not start")
            time.sleep(0.01)

    def wait(self) -> None:
        """Block until the server is closed (Ctrl-C in the CLI)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        if getattr(self, "is_closed", False):
            return
        self.is_closed = True
        deadline = time.monotonic() + 60
        while self.closing and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)  # sessions that just ended are still closing their envs on the server's loop
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()
        if self.service is not None:
            self.service.close()

    def __enter__(self) -> OpenEnvServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_openenv(env: str | Callable[[], Any], host: str = "127.0.0.1", port: int = 0, *, max_sessions: int = 64,
                  tasks: list | None = None, plain_prefix: str | None = PLAIN_PREFIX, **config: Any) -> OpenEnvServer:
    """Serve an env over the OpenEnv protocol (openenv-core's server) on a background thread.

    Args:
        env: a registered env name (built with ``agentgym.make(env, **config)`` per session) or a zero-argument
            factory returning a fresh env.
        host, port: where to listen; ``port=0`` picks a free port (read it from ``server.port``).
        max_sessions: WebSocket sessions (env instances) open at once; openenv refuses more with CAPACITY_REACHED.
        tasks: the task list a reset without a task draws from (by ``task_id``, or by seed); default: the env's
            ``sample_tasks``.
        plain_prefix: where agentgym's plain JSON API is mounted (None: not at all).

    Raises:
        DependencyNotInstalled: openenv-core is missing (``pip install 'agentgym-rl[openenv]'``).
    """
    if isinstance(env, str):
        name = env

        def factory() -> Any:
            return make(name, **config)

    elif callable(env):
        if config:
            raise TypeError("config keywords are only used with a registered env name")
        factory = env
    else:
        raise TypeError(f"env must be a registered env name or a factory, got {type(env).__name__}")
    app, service, closing = openenv_app(factory, max_sessions=max_sessions, tasks=tasks, plain_prefix=plain_prefix)
    return OpenEnvServer(app, service, host, port, plain_prefix=plain_prefix, closing=closing)
