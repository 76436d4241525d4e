"""`HttpEnv`: an agentgym env that plays a remote env served by `serve_http` (or any server speaking that API).

Rollouts, evaluation and training use it like a local env, while the env itself (its sandbox, kernels, indexes) runs
in another process or on another machine. Requests use the standard library only, on a worker thread, so they never
block the caller's event loop.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from agentgym.api import Action, Observation, StepResult, Task, ToolSpec
from agentgym.errors import AgentGymError, ResetNeeded
from agentgym.jsonio import dumps_utf8


class HttpEnvError(AgentGymError, RuntimeError):
    """The env server refused a request or could not be reached; the message carries the server's explanation."""


class HttpEnv:
    """A client env for an agentgym HTTP env server: ``HttpEnv("http://127.0.0.1:8000")``.

    It opens one server-side session on its first `reset` and reuses it for later episodes; `close` ends it.
    The optional hooks (`reference_action`, `sample_tasks`) exist exactly when the remote env has them.

    Args:
        url: the server's base URL.
        timeout_s: how long one request may take (a step that runs code may be slow).
    """

    def __init__(self, url: str, *, timeout_s: float = 120.0) -> None:
        if not isinstance(timeout_s, (int, float)) or timeout_s <= 0:
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        self.url = url.rstrip("/")
        self.timeout_s = float(timeout_s)
        info = self._request("GET", "/info")
        self.name: str = info["env"]
        self._tools = [ToolSpec.model_validate(t) for t in info["tools"]]
        self.session_id: str | None = None
        self.is_running = False
        self.is_closed = False
        if info.get("has_reference_action"):
            self.reference_action = self._reference_action
        if info.get("has_sample_tasks"):
            self.sample_tasks = self._sample_tasks

    # --- the Env protocol ---------------------------------------------------------------------------------------
    def tools(self) -> list[ToolSpec]:
        return list(self._tools)

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        if self.is_closed:
            raise ResetNeeded(f"env {self.name!r} (remote {self.url}) is closed; make a new one")
        body: dict[str, Any] = {"task": task.model_dump(mode="json"), "seed": seed}
        if self.session_id is not None:
            body["session_id"] = self.session_id
        reply = await self._arequest("POST", "/reset", body)
        self.session_id = reply["session_id"]
        self.is_running = True
        return Observation.model_validate(reply["observation"])

    async def step(self, action: Action) -> StepResult:
        if not self.is_running or self.session_id is None:
            raise ResetNeeded(
                f"env {self.name!r}: step() called before reset() or after the episode ended; call reset(task) first"
            )
        reply = await self._arequest("POST", "/step", {"session_id": self.session_id,
                                                       "action": action.model_dump(mode="json")})
        result = StepResult.model_validate({k: v for k, v in reply.items() if k not in ("session_id", "done")})
        self.is_running = not (result.terminated or result.truncated)
        return result

    async def close(self) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        self.is_running = False
        if self.session_id is not None:
            session_id, self.session_id = self.session_id, None
            try:
                await self._arequest("POST", "/close", {"session_id": session_id})
            except HttpEnvError:
                pass  # the server is gone or already dropped the session: nothing left to release

    async def __aenter__(self) -> HttpEnv:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- optional hooks (bound in __init__ when the remote env has them) ----------------------------------------
    def _reference_action(self, task: Task) -> Action:
        reply = self._request("POST", "/reference_action", {"task": task.model_dump(mode="json")})
        return Action.model_validate(reply["action"])

    def _sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        reply = self._request("POST", "/sample_tasks", {"n": n, "seed": seed})
        return [Task.model_validate(t) for t in reply["tasks"]]

    # --- transport ----------------------------------------------------------------------------------------------
    async def _arequest(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return await asyncio.to_thread(self._request, method, path, body)

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else dumps_utf8(body)
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            error = _error_body(e)
            if error.get("type") == "reset_needed":
                raise ResetNeeded(error.get("message", "reset needed")) from None
            raise HttpEnvError(f"{method} {self.url}{path} failed with HTTP {e.code}: "
                               f"{error.get('message', e.reason)}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise HttpEnvError(f"cannot reach the env server at {self.url} ({reason}); is `agentgym serve` "
                               f"running there?") from None


def _error_body(e: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        return json.loads(e.read()).get("error") or {}
    except (ValueError, AttributeError, OSError):
        return {}
