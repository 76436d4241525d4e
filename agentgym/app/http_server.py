"""`serve_http`: any agentgym env behind agentgym's plain reset/step JSON API, one env instance per session.

Endpoints (all JSON; errors are ``{"error": {"type": ..., "message": ...}}`` with a 4xx/5xx status):

- ``GET /health`` → ``{"status": "ok", "env": NAME, "num_sessions": N}``
- ``GET /info`` → ``{"env", "tools": [ToolSpec...], "has_reference_action", "has_sample_tasks"}``
- ``POST /reset`` ``{"task": Task, "seed": int|null, "session_id"?: str}`` → ``{"session_id", "observation"}``;
  without ``session_id`` a new session (a fresh env) is opened.
- ``POST /step`` ``{"session_id", "action": Action}`` → ``{"session_id", "observation", "reward", "done",
  "terminated", "truncated", "verdict", "error", "info"}`` (a `StepResult` plus ``done = terminated or truncated``).
- ``POST /close`` ``{"session_id"}`` → ``{"closed": true}``
- ``POST /sample_tasks`` ``{"n", "seed"}`` and ``POST /reference_action`` ``{"task"}``: the env's optional hooks.

The stdlib HTTP server answers on threads; every env runs on one private asyncio loop
(`agentgym.interop.loop_thread.LoopThread`), and steps
of one session are serialized by a lock, so concurrent sessions are isolated and a session is never stepped twice
at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from pydantic import ValidationError

from agentgym.api import Action, Task
from agentgym.errors import AgentGymError, ResetNeeded
from agentgym.interop.loop_thread import LoopThread
from agentgym.jsonio import dumps_utf8
from agentgym.registry import make

MAX_BODY_BYTES = 16 * 1024 * 1024


class HttpError(Exception):
    """A request the server refuses: carries the HTTP status and an error type for the JSON body."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind = status, kind


class _Session:
    def __init__(self, env: Any) -> None:
        self.env = env
        self.lock = asyncio.Lock()


class EnvService:
    """The request logic, transport-free: sessions of envs made by `make_env`, run on a private loop."""

    def __init__(self, make_env: Callable[[], Any], *, max_sessions: int = 64) -> None:
        if not isinstance(max_sessions, int) or max_sessions < 1:
            raise ValueError(f"max_sessions must be a positive integer, got {max_sessions!r}")
        self.make_env = make_env
        self.max_sessions = max_sessions
        self.probe = make_env()  # answers /info, /sample_tasks and /reference_action; never reset
        self.runner = LoopThread(name="agentgym-http-envs")
        self.sessions: dict[str, _Session] = {}
        self._sessions_lock = threading.Lock()
        self.env_name = str(getattr(self.probe, "name", "env"))

    def handle(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Dispatch one request; raises `HttpError` for anything the client got wrong."""
        routes: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
            ("GET", "/health"): lambda b: {"status": "ok", "env": self.env_name, "num_sessions": len(self.sessions)},
            ("GET", "/info"): self._info,
            ("POST", "/reset"): lambda b: self.runner.call(self._reset(b)),
            ("POST", "/step"): lambda b: self.runner.call(self._step(b)),
            ("POST", "/close"): lambda b: self.runner.call(self._close(b)),
            ("POST", "/sample_tasks"): self._sample_tasks,
            ("POST", "/reference_action"): self._reference_action,
        }
        route = routes.get((method, path))
        if route is None:
            if any(p == path for _, p in routes):
                allowed = ", ".join(m for m, p in routes if p == path)
                raise HttpError(405, "method_not_allowed", f"{method} {path} is not allowed; use {allowed}")
            known = ", ".join(f"{m} {p}" for m, p in routes)
            raise HttpError(404, "not_found", f"no endpoint {method} {path}; endpoints: {known}")
        return route(body)

    # --- endpoints ----------------------------------------------------------------------------------------------
    def _info(self, body: dict[str, Any]) -> dict[str, Any]:
        tools = self.runner.call(_sync(self.probe.tools))
        return {"env": self.env_name, "tools": [t.model_dump(mode="json") for t in tools],
                "has_reference_action": hasattr(self.probe, "reference_action"),
                "has_sample_tasks": hasattr(self.probe, "sample_tasks")}

    async def _reset(self, body: dict[str, Any]) -> dict[str, Any]:
        task = _parse(Task, body.get("task"), "task")
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise HttpError(400, "bad_request", f"seed must be an integer or null, got {seed!r}")
        session_id = body.get("session_id")
        if session_id is None:
            session_id, session = self._open()
        else:
            session = self._session(session_id)
        async with session.lock:
            try:
                observation = await session.env.reset(task, seed=seed)
            except ResetNeeded as e:
                raise HttpError(409, "reset_needed", str(e)) from None
        return {"session_id": session_id, "observation": observation.model_dump(mode="json")}

    async def _step(self, body: dict[str, Any]) -> dict[str, Any]:
        session_id = body.get("session_id")
        session = self._session(session_id)
        action = _parse(Action, body.get("action"), "action")
        async with session.lock:
            try:
                result = await session.env.step(action)
            except ResetNeeded as e:
                raise HttpError(409, "reset_needed", str(e)) from None
        return {"session_id": session_id, **result.model_dump(mode="json"),
                "done": result.terminated or result.truncated}

    async def _close(self, body: dict[str, Any]) -> dict[str, Any]:
        session_id = body.get("session_id")
        session = self._session(session_id)
        with self._sessions_lock:
            self.sessions.pop(session_id, None)
        async with session.lock:
            await session.env.close()
        return {"session_id": session_id, "closed": True}

    def _sample_tasks(self, body: dict[str, Any]) -> dict[str, Any]:
        if not hasattr(self.probe, "sample_tasks"):
            raise HttpError(404, "not_supported", f"env {self.env_name!r} has no sample_tasks hook")
        n, seed = body.get("n", 4), body.get("seed", 0)
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 10_000:
            raise HttpError(400, "bad_request", f"n must be an integer in [0, 10000], got {n!r}")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise HttpError(400, "bad_request", f"seed must be an integer, got {seed!r}")
        tasks = self.runner.call(_sync(lambda: self.probe.sample_tasks(n, seed=seed)))
        return {"tasks": [t.model_dump(mode="json") for t in tasks]}

    def _reference_action(self, body: dict[str, Any]) -> dict[str, Any]:
        if not hasattr(self.probe, "reference_action"):
            raise HttpError(404, "not_supported", f"env {self.env_name!r} has no reference_action hook")
        task = _parse(Task, body.get("task"), "task")
        action = self.runner.call(_sync(lambda: self.probe.reference_action(task)))
        return {"action": action.model_dump(mode="json")}

    # --- sessions -----------------------------------------------------------------------------------------------
    def _open(self) -> tuple[str, _Session]:
        with self._sessions_lock:
            if len(self.sessions) >= self.max_sessions:
                raise HttpError(503, "too_many_sessions",
                                f"{len(self.sessions)} sessions are open (max {self.max_sessions}); close one first")
            session_id = uuid.uuid4().hex
            self.sessions[session_id] = _Session(self.make_env())
        return session_id, self.sessions[session_id]

    def _session(self, session_id: Any) -> _Session:
        if not isinstance(session_id, str):
            raise HttpError(400, "bad_request", f"session_id must be a string from POST /reset, got {session_id!r}")
        session = self.sessions.get(session_id)
        if session is None:
            raise HttpError(404, "unknown_session", f"no open session {session_id!r}; POST /reset to open one")
        return session

    def close(self) -> None:
        """Close every session's env and the probe, then the loop."""
        async def close_all() -> None:
            for session in list(self.sessions.values()):
                await session.env.close()
            self.sessions.clear()
            await self.probe.close()

        try:
            self.runner.call(close_all(), timeout=30)
        finally:
            self.runner.close()


def _parse(model: Any, value: Any, field: str) -> Any:
    if value is None:
        raise HttpError(400, "bad_request", f"missing field {field!r}")
    try:
        return model.model_validate(value)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or field}: {err['msg']}" for err in e.errors())
        raise HttpError(400, "bad_request", f"invalid {field}: {problems}") from None


async def _sync(fn: Callable[[], Any]) -> Any:
    return fn()


def answer(service: EnvService, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    """One request, transport-free: (status, JSON payload). Both the stdlib server and the ASGI mount use it."""
    try:
        body = _body(raw) if method == "POST" else {}
        return 200, service.handle(method, path.split("?", 1)[0], body)
    except HttpError as e:
        return e.status, {"error": {"type": e.kind, "message": str(e)}}
    except AgentGymError as e:
        return 400, {"error": {"type": type(e).__name__, "message": str(e)}}
    except Exception as e:  # noqa: BLE001 - an env bug is a 500 with its message, and the server lives on
        return 500, {"error": {"type": "env_error", "message": f"{type(e).__name__}: {e}"}}


def encode_reply(status: int, payload: Any) -> tuple[int, bytes]:
    """The reply's UTF-8 JSON bytes; a payload that cannot be encoded becomes a 500 that can."""
    try:
        return status, dumps_utf8(payload)
    except (TypeError, ValueError) as e:
        return 500, dumps_utf8({"error": {"type": "env_error", "message": f"reply not encodable: {type(e).__name__}"}})


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HttpError(400, "bad_json", f"request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise HttpError(400, "bad_request", f"request body must be a JSON object, got {type(body).__name__}")
    return body


def too_large(length: int) -> tuple[int, Any]:
    return 413, {"error": {"type": "too_large", "message": f"request body of {length} bytes exceeds {MAX_BODY_BYTES}"}}


class _Handler(BaseHTTPRequestHandler):
    service: EnvService  # set on the per-server subclass
    server_version = "agentgym-http/1"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    def _answer(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            status, payload = 400, {"error": {"type": "bad_request", "message": "Content-Length is not a number"}}
        else:
            if length > MAX_BODY_BYTES:
                status, payload = too_large(length)
            else:
                raw = self.rfile.read(length) if length and method == "POST" else b""
                status, payload = answer(self.service, method, self.path, raw)
        status, data = encode_reply(status, payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass


class EnvHttpServer:
    """A running HTTP server for one env (started on a background thread). `close()` is idempotent.

    Attributes:
        url: e.g. ``"http://127.0.0.1:43121"``.
        port: the bound port (useful with ``port=0``).
    """

    def __init__(self, service: EnvService, host: str, port: int) -> None:
        self.service = service
        handler = type("EnvHandler", (_Handler,), {"service": service})
        try:
            self.httpd = ThreadingHTTPServer((host, port), handler)
        except OSError:
            service.close()
            raise
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="agentgym-http", daemon=True)
        self._thread.start()
        self.is_closed = False

    def wait(self) -> None:
        """Block until the server is closed (Ctrl-C in the CLI)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        self.httpd.shutdown()
        self.httpd.server_close()
        self.service.close()

    def __enter__(self) -> EnvHttpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_http(env: str | Callable[[], Any], host: str = "127.0.0.1", port: int = 0, *, max_sessions: int = 64,
               **config: Any) -> EnvHttpServer:
    """Serve an env over HTTP on a background thread and return the running server.

    Args:
        env: a registered env name (built with ``agentgym.make(env, **config)`` per session) or a zero-argument
            factory returning a fresh env.
        host, port: where to listen; ``port=0`` picks a free port (read it from ``server.port``).
        max_sessions: open sessions allowed at once (each holds one env instance).
    """
    if isinstance(env, str):
        name = env  # EnvService builds a probe env at once, so a bad name or config fails here, not on a request

        def factory() -> Any:
            return make(name, **config)

    elif callable(env):
        if config:
            raise TypeError("config keywords are only used with a registered env name")
        factory = env
    else:
        raise TypeError(f"env must be a registered env name or a factory, got {type(env).__name__}")
    return EnvHttpServer(EnvService(factory, max_sessions=max_sessions), host, port)
