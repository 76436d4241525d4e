"""A gymnasium.Env view of any agentgym env: text in, text out, so gymnasium tooling (check_env, wrappers) works on it."""

from __future__ import annotations

import asyncio
import string
from typing import Any, Sequence

import gymnasium
from gymnasium import spaces

from agentgym.api import Action, Message, Observation, Task

_PRINTABLE = frozenset(string.printable)


class AnyText(spaces.Text):
    """A Text space that contains any string up to `max_length` (LLM text is unicode, not an alphabet).

    Sampling draws from printable ASCII, which is enough for random-action checks.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: int | None = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=string.printable, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"AnyText({self.min_length}, {self.max_length})"


def render_messages(messages: Sequence[Message]) -> str:
    """The observation text: one block per message, e.g. ``[tool calculator] 35``."""
    blocks = []
    for m in messages:
        head = f"[{m.role} {m.name}]" if m.name else f"[{m.role}]"
        blocks.append(f"{head} {m.content}")
    return "\n".join(blocks)


class GymEnv(gymnasium.Env):
    """Wraps an agentgym env as a `gymnasium.Env` whose observations and actions are strings.

    `reset(seed=s)` picks a task from `tasks` with the seeded RNG and resets the inner env with the same seed, so the
    same seed gives the same episode. An action is the model's raw text (tool calls in Hermes or DeepSeek form).

    Args:
        env: any object implementing `agentgym.api.Env`.
        tasks: the tasks to draw from (at least one).
        max_length: the longest observation or action text.
    """

    metadata = {"render_modes": []}

    def __init__(self, env: Any, tasks: Sequence[Task], *, max_length: int = 100_000) -> None:
        if not tasks:
            raise ValueError("tasks must contain at least one Task")
        self.env = env
        self.tasks = list(tasks)
        self.observation_space = AnyText(max_length)
        self.action_space = AnyText(max_length)
        self._loop = asyncio.new_event_loop()
        self._is_closed = False

    def _run(self, coro: Any) -> Any:
        return self._loop.run_until_complete(coro)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        index = int(self.np_random.integers(len(self.tasks)))
        if options and "task_index" in options:
            index = int(options["task_index"])
            if not 0 <= index < len(self.tasks):
                raise ValueError(f"options['task_index'] must be in [0, {len(self.tasks)}), got {index}")
        task = self.tasks[index]
        episode_seed = int(self.np_random.integers(2**31))
        obs: Observation = self._run(self.env.reset(task, seed=episode_seed))
        return self._clip(render_messages(obs.messages)), {"task_id": task.id}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        result = self._run(self.env.step(Action(text=str(action))))
        info = dict(result.info)
        if result.verdict is not None:
            info["verdict"] = result.verdict.model_dump()
        if result.error is not None:
            info["error"] = result.error
        text = self._clip(render_messages(result.observation.messages))
        return text, float(result.reward), bool(result.terminated), bool(result.truncated), info

    def _clip(self, text: str) -> str:
        limit = self.observation_space.max_length
        return text if len(text) <= limit else text[: limit - 20] + "\n[... truncated ...]"

    def close(self) -> None:
        if self._is_closed:
            return
        self._is_closed = True
        self._run(self.env.close())
        self._loop.close()
