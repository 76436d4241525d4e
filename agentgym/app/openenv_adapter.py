"""An agentgym env as an OpenEnv `Environment`: the action, observation and state models `openenv-core` serves.

Imported only through `agentgym.app.openenv_server`, after `require` has checked that ``openenv-core`` is installed
(``pip install 'agentgym-rl[openenv]'``). The mapping:

- ``reset(task=Task JSON | task_id=str | seed=int)``: a full task, a task of the server's task list by id, or, with
  neither, the env's sample task for `seed` (no seed: the server's next seed, counting up from 0).
- ``step({"text": ..., "tool_calls": [{"name", "arguments", "id"?}]})``: one agentgym `Action`.
- The observation carries the turn's new ``messages``, ``reward`` and ``done``, and agentgym's ``error`` label,
  ``verdict``, ``terminated``/``truncated`` and the ``task_id``/``seed`` played (also in ``metadata``, which OpenEnv
  keeps server-side: its wire format drops ``metadata``). After reset it also lists the env's ``tools``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
from typing import Any, Callable

from openenv.core.env_server.interfaces import Environment
from openenv.core.env_server.types import Action as OpenEnvAction
from openenv.core.env_server.types import EnvironmentMetadata, State
from openenv.core.env_server.types import Observation as OpenEnvObservation
from pydantic import Field

from agentgym.api import Action, Task, ToolCall
from agentgym.jsonio import utf8_safe


class AgentGymAction(OpenEnvAction):
    """One agent turn: assistant ``text`` (tool calls written in it are parsed by the env) and/or ``tool_calls``."""

    text: str = Field(default="", description="assistant text; <tool_call> blocks in it are parsed by the env")
    tool_calls: list[dict[str, Any]] = Field(default_factory=list,
                                             description='structured calls: {"name", "arguments", "id"?}')
    reasoning: str | None = Field(default=None, description="the thinking text, if the policy separates it")


class AgentGymObservation(OpenEnvObservation):
    """What the agent sees after reset or a step (``reward`` and ``done`` are OpenEnv's own fields)."""

    messages: list[dict[str, Any]] = Field(default_factory=list, description="the turn's new chat messages")
    tools: list[dict[str, Any]] = Field(default_factory=list, description="the env's tools (after reset)")
    task_id: str | None = Field(default=None, description="the task being played")
    seed: int | None = Field(default=None, description="the seed the episode was reset with")
    error: str | None = Field(default=None, description="agentgym's label: model_error, env_error or null")
    verdict: dict[str, Any] | None = Field(default=None, description="the verifier's judgement, on the last step")
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = Field(default_factory=dict, description="env diagnostics (never needed to act)")


class AgentGymState(State):
    """``episode_id`` and ``step_count`` (OpenEnv's), plus the env and task being played."""

    env: str = ""
    task_id: str | None = None
    done: bool = False


class TaskPicker:
    """Chooses the task of a reset that names none; shared by every session of one server."""

    def __init__(self, tasks: list[Task] | None = None, *, first_seed: int = 0) -> None:
        self.tasks = list(tasks) if tasks else None
        self._seeds = itertools.count(first_seed)
        self._lock = threading.Lock()

    def next_seed(self) -> int:
        with self._lock:
            return next(self._seeds)

    def pick(self, env: Any, *, task: Any, task_id: Any, seed: int | None) -> Task:
        if task is not None:
            return Task.model_validate(task)
        if task_id is not None:
            pool = self.tasks or env.sample_tasks(1024, seed=0)
            found = next((t for t in pool if t.id == task_id), None)
            if found is None:
                where = "the server's task list" if self.tasks else "the env's first 1024 sample tasks (seed 0)"
                raise ValueError(f"no task with id {task_id!r} in {where}")
            return found
        assert seed is not None  # the caller draws one first
        if self.tasks:
            return self.tasks[seed % len(self.tasks)]
        if not hasattr(env, "sample_tasks"):
            raise ValueError(f"env {env.name!r} has no sample_tasks: reset with task=... (a full task)")
        return env.sample_tasks(1, seed=seed)[0]


class AgentGymEnvironment(Environment):
    """One session's agentgym env, served through `openenv-core`. Steps run on the server's event loop.

    Args:
        make_env: builds a fresh agentgym env (called once per session, on openenv's session thread).
        picker: the server's `TaskPicker`.
        closing: the server's set of env closes still running on its loop (the server waits for them on close).
    """

    SUPPORTS_CONCURRENT_SESSIONS = True  # each session is its own env instance
    # openenv gives each session its own thread unless this is set; ours only builds and closes envs there (steps
    # are coroutines on the event loop), so one shared thread serves every session instead of 512 idle threads.
    REQUIRES_SINGLE_THREAD_EXECUTOR = True

    def __init__(self, make_env: Callable[[], Any], picker: TaskPicker,
                 closing: set[concurrent.futures.Future] | None = None) -> None:
        super().__init__()
        self.closing = closing if closing is not None else set()
        self.env = make_env()
        self.picker = picker
        self._state = AgentGymState(env=str(getattr(self.env, "name", "env")))
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- OpenEnv's async API (what the server calls) --------------------------------------------------------------
    async def reset_async(self, seed: int | None = None, episode_id: str | None = None, task: Any = None,
                          task_id: str | None = None, **kwargs: Any) -> AgentGymObservation:
        if kwargs:
            raise ValueError(f"unknown reset arguments {sorted(kwargs)}; accepted: seed, episode_id, task, task_id")
        self._loop = asyncio.get_running_loop()
        if seed is None and task is None and task_id is None:
            seed = self.picker.next_seed()
        chosen = self.picker.pick(self.env, task=task, task_id=task_id, seed=seed)
        observation = await self.env.reset(chosen, seed=seed)
        self._state = AgentGymState(episode_id=episode_id, env=self._state.env, task_id=chosen.id)
        tools = [t.model_dump(mode="json") for t in self.env.tools()]
        return self._observe(observation, reward=None, tools=tools, seed=seed)

    async def step_async(self, action: AgentGymAction, timeout_s: float | None = None,
                         **kwargs: Any) -> AgentGymObservation:
        if self._state.task_id is None or self._state.done:
            raise RuntimeError("step before reset (or after the episode ended): reset first. OpenEnv's HTTP "
                               "POST /step is stateless (a fresh env per request); play episodes over the "
                               "WebSocket session at /ws, as openenv's EnvClient does")
        calls = [ToolCall.model_validate(c) for c in action.tool_calls]
        result = await self.env.step(Action(text=action.text, tool_calls=calls, reasoning=action.reasoning))
        done = result.terminated or result.truncated
        self._state.step_count += 1
        self._state.done = done
        verdict = result.verdict.model_dump(mode="json") if result.verdict else None
        return self._observe(result.observation, reward=result.reward, done=done, error=result.error,
                             verdict=verdict, terminated=result.terminated, truncated=result.truncated,
                             info=utf8_safe(result.info))

    def _observe(self, observation: Any, **fields: Any) -> AgentGymObservation:
        out = AgentGymObservation(messages=utf8_safe([m.model_dump(mode="json") for m in observation.messages]),
                                  task_id=self._state.task_id, **fields)
        out.metadata = {"env": self._state.env, "task_id": out.task_id, "error": out.error, "verdict": out.verdict}
        return out

    # --- OpenEnv's sync API (abstract there; for in-process use only) --------------------------------------------
    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> AgentGymObservation:
        return self._run(self.reset_async(seed=seed, episode_id=episode_id, **kwargs))

    def step(self, action: AgentGymAction, timeout_s: float | None = None, **kwargs: Any) -> AgentGymObservation:
        return self._run(self.step_async(action))

    def _run(self, coro: Any) -> Any:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coro)

    @property
    def state(self) -> AgentGymState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        doc = (type(self.env).__doc__ or "").strip().splitlines()
        return EnvironmentMetadata(name=self._state.env, description=doc[0] if doc else "an agentgym env",
                                   version="agentgym-rl", documentation_url="docs/interop.md")

    def close(self) -> None:
        """Close the agentgym env on the loop that ran it (openenv calls this from its session thread or the loop)."""
        loop, self._loop = self._loop, None
        current = _running_loop()
        if loop is None or loop is current:
            if current is None:
                asyncio.run(self.env.close())
            else:  # on the loop itself (openenv's stateless HTTP /reset closes there): close in the background
                task = current.create_task(self.env.close())
                _PENDING_CLOSES.add(task)
                task.add_done_callback(_PENDING_CLOSES.discard)
        elif not loop.is_running():
            loop.run_until_complete(self.env.close())
            loop.close()
        else:  # openenv's session thread: hand the close to the loop without blocking this thread, which openenv's
            # shutdown joins from the loop itself (waiting here would deadlock a server stopped mid-close)
            future = asyncio.run_coroutine_threadsafe(self.env.close(), loop)
            self.closing.add(future)
            future.add_done_callback(self.closing.discard)


_PENDING_CLOSES: set[asyncio.Task] = set()  # asyncio keeps only weak references to tasks


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
