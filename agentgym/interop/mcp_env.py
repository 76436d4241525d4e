"""`MCPToolsEnv`: an agentgym env whose tools are an MCP server's tools, plus a `submit` tool checked by a scorer.

The MCP server supplies the actions (search a wiki, query a database, read files); agentgym supplies what MCP has no
notion of: the task, the episode and the reward. Each task carries a reference answer in ``task.data["answer"]``;
the agent ends the episode with ``submit(answer)``, and a pluggable scorer ``(answer, task) -> float`` grades it.
"""

from __future__ import annotations

import asyncio
import importlib
import random
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from agentgym.api import Action, Task, ToolCall, ToolSpec, Verdict
from agentgym.errors import AgentGymError
from agentgym.interop.mcp_connection import (
    MCPConnection,
    MCPConnectionError,
    MCPServerConfig,
)
from agentgym.interop.verdict import threshold_verdict
from agentgym.taskio import load_tasks
from agentgym.toolenv import ToolEnv, internal_error

Scorer = Callable[[str, Task], float]


def normalize_answer(text: Any) -> str:
    """Lower-case, trim, collapse whitespace, drop a trailing period: ``" Paris. "`` → ``"paris"``."""
    return re.sub(r"\s+", " ", str(text)).strip().rstrip(".").strip().lower()


def exact_match(answer: str, task: Task) -> float:
    """1.0 iff the normalized answer equals the normalized ``task.data["answer"]`` (or any of a list of them)."""
    expected = task.data.get("answer")
    options = expected if isinstance(expected, list) else [expected]
    return 1.0 if any(normalize_answer(answer) == normalize_answer(o) for o in options if o is not None) else 0.0


def load_scorer(scorer: Scorer | str) -> Scorer:
    """A scorer callable, or one named ``"package.module:function"`` (so it can be set from config and CLI)."""
    if callable(scorer):
        return scorer
    module_name, _, attr = str(scorer).partition(":")
    if not module_name or not attr:
        raise ValueError(f"scorer must be a callable or 'package.module:function', got {scorer!r}")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"scorer {scorer!r} cannot be loaded: {e}") from None
    if not callable(fn):
        raise ValueError(f"scorer {scorer!r} is a {type(fn).__name__}, not a function")
    return fn


class MCPToolsEnv(ToolEnv):
    """An env whose tools are those of an MCP server (stdio), plus ``submit(answer)``, which ends the episode.

    Args:
        command, args, server_env, cwd: how to start the MCP server (see `MCPServerConfig`); or
        connection: an already open `MCPConnection` to share between envs (the env then never closes it; a stateful
            server shared by concurrent episodes is the caller's responsibility).
        tasks: the tasks `sample_tasks` draws from: a list of `Task` or a JSONL task file.
        scorer: ``(answer, task) -> float`` or ``"module:function"``; default `exact_match` on ``task.data["answer"]``.
        pass_threshold: a score at or above this passes.
        system_prompt: what the agent is told before the task (default: use the tools, then submit).
        name: the env name reported in trajectories.
        call_timeout_s: how long one MCP tool call may take.
    """

    name = "mcp"
    system_prompt = "Use the tools to find the answer to the task, then call `submit` with the final answer."

    def __init__(
        self,
        *,
        command: str | None = None,
        args: Sequence[str] = (),
        server_env: dict[str, str] | None = None,
        cwd: str | None = None,
        connection: MCPConnection | None = None,
        tasks: Sequence[Task] | str | Path | None = None,
        scorer: Scorer | str = exact_match,
        pass_threshold: float = 1.0,
        system_prompt: str | None = None,
        name: str = "mcp",
        max_turns: int = 16,
        tool_format: str = "auto",
        call_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(max_turns=max_turns, tool_format=tool_format)
        if (command is None) == (connection is None):
            raise ValueError("give exactly one of command (to start an MCP server) or connection (to share one)")
        self.name = name
        if system_prompt is not None:
            self.system_prompt = system_prompt
        self.scorer = load_scorer(scorer)
        self.pass_threshold = float(pass_threshold)
        self.task_pool = load_tasks(tasks) if isinstance(tasks, (str, Path)) else list(tasks or [])
        self._config = None if command is None else MCPServerConfig(
            command=command, args=list(args), env=dict(server_env or {}), cwd=cwd, call_timeout_s=call_timeout_s)
        self.connection = connection
        self._owns_connection = connection is None

    # --- tools --------------------------------------------------------------------------------------------------
    def _connect(self) -> MCPConnection:
        if self.connection is None:
            assert self._config is not None
            self.connection = MCPConnection(self._config)
        if not self._specs:  # ToolEnv found no @tool methods; the list is filled once, from the server
            specs = self.connection.tools
            if any(s.name == "submit" for s in specs):
                raise MCPConnectionError("the MCP server has its own tool named 'submit', which MCPToolsEnv reserves "
                                         "for the answer; rename the server's tool")
            self._specs = [*specs, _SUBMIT]
        return self.connection

    def tools(self) -> list[ToolSpec]:
        self._connect()
        return list(self._specs)

    async def on_reset(self, task: Task, seed: int | None) -> None:
        if self.connection is None or not self._specs:
            await asyncio.to_thread(self._connect)  # starting a server takes a while; don't block other episodes

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> tuple[str | Verdict, str | None]:
        if name == "submit":
            return self._judge(str(arguments.get("answer", ""))), None
        assert self.connection is not None
        try:
            text, is_error = await self.connection.call_tool(name, arguments)
        except Exception as e:  # noqa: BLE001 - a server failure must not look like the agent's fault
            return internal_error(name, f"{type(e).__name__}: {e}", kind="MCP tool"), "env_error"
        return (f"error: {text}", "model_error") if is_error else (text, None)

    def _judge(self, answer: str) -> Verdict:
        assert self.task is not None
        score = float(self.scorer(answer, self.task))
        scorer_name = getattr(self.scorer, "__name__", type(self.scorer).__name__)
        return threshold_verdict(score, self.pass_threshold, f"{scorer_name}: answer {answer!r} vs reference "
                                                             f"{self.task.data.get('answer')!r} scores {score:g}")

    # --- optional hooks -----------------------------------------------------------------------------------------
    def reference_action(self, task: Task) -> Action:
        if "answer" not in task.data:
            raise AgentGymError(f"task {task.id!r} has no data['answer'], so MCPToolsEnv has no reference answer")
        answer = task.data["answer"]
        answer = answer[0] if isinstance(answer, list) and answer else answer
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": str(answer)})])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        if not self.task_pool:
            raise AgentGymError(f"env {self.name!r} was given no tasks; pass tasks=[...] or a JSONL task file")
        rng = random.Random(seed)
        return [self.task_pool[rng.randrange(len(self.task_pool))] for _ in range(n)]

    async def aclose(self) -> None:
        if self._owns_connection and self.connection is not None:
            connection, self.connection = self.connection, None
            await asyncio.to_thread(connection.close)


_SUBMIT = ToolSpec(
    name="submit",
    description="Submit the final answer; this ends the episode.",
    parameters={"type": "object", "properties": {"answer": {"type": "string", "description": "the final answer"}},
                "required": ["answer"]},
)

