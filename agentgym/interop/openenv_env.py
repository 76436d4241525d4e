"""`OpenEnvEnv`: an OpenEnv environment (any server openenv-core's client reaches) as an agentgym env.

It plays the server through openenv-core's own client (`GenericEnvClient`, one WebSocket session per env) on a
private event loop, so agentgym callers on any loop share it. Two kinds of server:

- **an agentgym env served by `agentgym serve ENV --http PORT`**: its ``/schema`` lists the env's tools, and the
  episode passes through unchanged: the server parses the agent's text and tool calls, and its messages, reward,
  verdict and error label come back as they are.
- **any other OpenEnv env**: OpenEnv has actions and observations but no tools or tasks, so the action schema
  becomes one tool, ``act``, whose arguments are the action's fields; each call is one OpenEnv step and its
  observation comes back as the tool's message (JSON). The episode ends when the server says ``done``; the verdict's
  reward is the episode's summed reward, passed when it reaches `pass_threshold`.

A task's ``data["reset"]`` holds the reset arguments (e.g. ``{"seed": 3}``); `sample_tasks` makes such tasks (or
draws from `tasks`). openenv-core is imported on first use: ``pip install 'agentgym-rl[openenv]'``.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Sequence

from agentgym.api import Action, Message, Observation, StepResult, Task, ToolCall, ToolSpec, Verdict
from agentgym.errors import AgentGymError, ResetNeeded, require
from agentgym.interop.loop_thread import LoopThread
from agentgym.interop.verdict import threshold_verdict
from agentgym.taskio import load_tasks
from agentgym.toolenv import ToolEnv
from agentgym.tools import validate_call


class OpenEnvError(AgentGymError, RuntimeError):
    """The OpenEnv server could not be reached or refused a request; the message carries its explanation."""


class OpenEnvEnv(ToolEnv):
    """An agentgym env that plays an OpenEnv server: ``OpenEnvEnv("http://127.0.0.1:8000")``.

    Args:
        url: the server's base URL (``http://`` or ``ws://``; the client connects to ``/ws``).
        tasks: the tasks `sample_tasks` draws from (a list of `Task` or a JSONL file); default: tasks that reset
            with seeds ``seed, seed + 1, ...``.
        name: the env name in trajectories (default: the server's ``/metadata`` name).
        pass_threshold: a generic env's episode reward at or above this passes.
        system_prompt: a generic env's system message (an agentgym server sends its own).
        max_turns: a generic env's steps before truncation (an agentgym server applies its env's own budget).
        message_timeout_s: how long one reset or step may take.
    """

    system_prompt = ("You act in an environment through the `act` tool: each call is one action, and its result is "
                     "what the environment observes next. Keep acting until the episode ends.")

    def __init__(self, url: str, *, tasks: Sequence[Task] | str | Path | None = None, name: str | None = None,
                 pass_threshold: float = 1.0, system_prompt: str | None = None, max_turns: int = 16,
                 tool_format: str = "auto", message_timeout_s: float = 120.0) -> None:
        super().__init__(max_turns=max_turns, tool_format=tool_format)
        self.url = url.rstrip("/").replace("ws://", "http://", 1).replace("wss://", "https://", 1)
        schema, metadata = self._get("/schema"), self._get("/metadata")
        action_schema = schema.get("action") or {}
        self.served_env = action_schema.get("x-agentgym-env")  # set by agentgym's own OpenEnv server
        self.name = name or str(self.served_env or metadata.get("name") or "openenv")
        if system_prompt is not None:
            self.system_prompt = system_prompt
        self.description = str(metadata.get("description") or "")
        if self.served_env is not None:
            self._specs = [ToolSpec.model_validate(t) for t in action_schema.get("x-agentgym-tools", [])]
        else:
            self._specs = [_act_tool(action_schema, self.name, self.description)]
        self.pass_threshold = float(pass_threshold)
        self.task_pool = load_tasks(tasks) if isinstance(tasks, (str, Path)) else list(tasks or [])
        self.message_timeout_s = float(message_timeout_s)
        self._runner: LoopThread | None = None
        self._client: Any = None
        self._return = 0.0

    # --- the Env protocol ---------------------------------------------------------------------------------------
    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        if self.is_closed:
            raise ResetNeeded(f"env {self.name!r} (OpenEnv server {self.url}) is closed; make a new one")
        kwargs = dict(task.data.get("reset") or {})
        if "reset" not in task.data and self.served_env is not None:
            kwargs["task"] = task.model_dump(mode="json")
        if seed is not None:
            kwargs.setdefault("seed", seed)
        reply = await self._call("reset", **kwargs)
        observation = reply.observation
        self.task, self.num_turns, self._return, self.is_running = task, 0, 0.0, True
        if self.served_env is not None:
            return Observation(messages=[Message.model_validate(m) for m in observation.get("messages", [])])
        prompt = "\n\n".join(p for p in (task.prompt, f"Observation:\n{_json(observation)}") if p)
        return Observation(messages=[Message(role="system", content=self.system_prompt),
                                     Message(role="user", content=prompt)])

    async def step(self, action: Action) -> StepResult:
        if self.served_env is None:
            return await super().step(action)  # parse, validate, then `_run_call` per call
        if not self.is_running:
            raise ResetNeeded(f"env {self.name!r}: step() called before reset() or after the episode ended")
        payload = {"text": action.text, "tool_calls": [c.model_dump(mode="json") for c in action.tool_calls],
                   "reasoning": action.reasoning}
        reply = await self._call("step", payload)
        obs = reply.observation
        terminated, truncated = bool(obs.get("terminated")), bool(obs.get("truncated"))
        self.is_running = not (terminated or truncated)
        verdict = obs.get("verdict")
        return StepResult(observation=Observation(messages=[Message.model_validate(m) for m in obs.get("messages", [])]),
                          reward=float(reply.reward or 0.0), terminated=terminated, truncated=truncated,
                          verdict=Verdict.model_validate(verdict) if verdict else None, error=obs.get("error"),
                          info=obs.get("info") or {})

    async def _run_call(self, call: ToolCall) -> tuple[str | Verdict, str | None]:
        problem = validate_call(call, self._specs)
        if problem is not None:
            return f"error: {problem}", "model_error"
        arguments = call.arguments if isinstance(call.arguments, dict) else json.loads(call.arguments or "{}")
        try:
            reply = await self._call("step", arguments)
        except OpenEnvError as e:
            if "VALIDATION_ERROR" in str(e):  # the server's action model refused the agent's arguments
                return f"error: the environment rejected this action: {e}", "model_error"
            return f"internal error in the OpenEnv environment ({e}); this is not your fault", "env_error"
        self._return += float(reply.reward or 0.0)
        if reply.done:
            return threshold_verdict(self._return, self.pass_threshold, f"episode reward {self._return:g}"), None
        text = _json(reply.observation)
        return (text if reply.reward is None else f"{text}\nreward: {reply.reward:g}"), None

    async def aclose(self) -> None:
        runner, client = self._runner, self._client
        self._runner = self._client = None
        if runner is None:
            return
        try:
            if client is not None:
                await runner.run(client.close())
        except Exception:  # noqa: BLE001 - the server may already be gone; nothing is left to release
            pass
        finally:
            runner.close()

    # --- optional hook ------------------------------------------------------------------------------------------
    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        """`n` tasks from `tasks` (drawn with `seed`), or tasks that reset the server with seeds seed, seed+1, ..."""
        if self.task_pool:
            rng = random.Random(seed)
            return [self.task_pool[rng.randrange(len(self.task_pool))] for _ in range(n)]
        return [Task(id=f"{self.name}-seed{seed + i}", env=self.name, prompt="" if self.served_env else
                     self.description, data={"reset": {"seed": seed + i}}) for i in range(n)]

    # --- transport ----------------------------------------------------------------------------------------------
    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self._runner is None:
            require("openenv.core", "openenv", "OpenEnvEnv (an OpenEnv environment as an agentgym env)")
            from openenv.core.generic_client import GenericEnvClient

            self._runner = LoopThread(name=f"agentgym-openenv-{self.name}")
            self._client = GenericEnvClient(base_url=self.url, message_timeout_s=self.message_timeout_s)
        client = self._client
        try:
            return await self._runner.run(getattr(client, method)(*args, **kwargs))
        except (RuntimeError, ConnectionError, OSError, TimeoutError) as e:
            raise OpenEnvError(f"OpenEnv {method} on {self.url} failed: {e}") from None

    def _get(self, path: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise OpenEnvError(f"GET {self.url}{path} failed with HTTP {e.code}; is this an OpenEnv server?") from None
        except (urllib.error.URLError, OSError) as e:
            raise OpenEnvError(f"cannot reach the OpenEnv server at {self.url} ({getattr(e, 'reason', e)})") from None


def _act_tool(action_schema: dict[str, Any], name: str, description: str) -> ToolSpec:
    """The one tool of a generic OpenEnv env: its action's JSON schema, minus OpenEnv's own ``metadata`` field."""
    parameters = {k: v for k, v in action_schema.items() if k not in ("title", "description")}
    parameters["type"] = "object"
    parameters["properties"] = {k: v for k, v in (action_schema.get("properties") or {}).items() if k != "metadata"}
    if "required" in parameters:
        parameters["required"] = [r for r in parameters["required"] if r != "metadata"]
    about = action_schema.get("description") or f"an action of {name}"
    text = f"Take one step in the environment {name!r}: {about}"
    return ToolSpec(name="act", description=f"{text} ({description})" if description else text, parameters=parameters)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
