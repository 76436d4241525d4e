"""`serve_mcp`: any agentgym env as an MCP server, so MCP clients (agent frameworks, IDE assistants) can play it.

The server shows the env's own tools, unchanged, plus ``reset_episode(task_index?, task?, seed?)`` to start an
episode. Each tool call becomes one agentgym step with that single call; the result's text is the tool message, and
its structured content carries ``reward``, ``terminated``, ``truncated``, ``error`` and the ``verdict``. An agent
mistake (bad arguments, calling before ``reset_episode``) is a result with ``is_error`` set, never a protocol error.
One server holds one env and one episode at a time (stdio serves one client).
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

from agentgym.api import Action, Task, ToolCall
from agentgym.errors import AgentGymError, ResetNeeded
from agentgym.jsonio import utf8_safe
from agentgym.interop.mcp_connection import require_mcp

RESET_TOOL = "reset_episode"


class EnvToolServer:
    """The transport-free logic of the MCP server: tool listing and tool calls against one env."""

    def __init__(self, env: Any, tasks: Sequence[Task] | None = None) -> None:
        names = [s.name for s in env.tools()]
        if RESET_TOOL in names:
            raise AgentGymError(f"env {env.name!r} has its own tool named {RESET_TOOL!r}, which serve_mcp reserves")
        self.env = env
        self.tasks = list(tasks) if tasks else _default_tasks(env)
        self._ids = itertools.count()
        self.is_running = False

    def tool_specs(self) -> list[dict[str, Any]]:
        """Name, description and input schema of every tool, reset first."""
        reset = {
            "name": RESET_TOOL,
            "description": (f"Start a new episode of the {self.env.name!r} env and return the task. Pick a task by "
                            f"task_index (0..{max(len(self.tasks) - 1, 0)}) or pass a full agentgym task object."),
            "input_schema": {"type": "object", "properties": {
                "task_index": {"type": "integer", "minimum": 0}, "task": {"type": "object"},
                "seed": {"type": "integer"}}},
        }
        own = [{"name": s.name, "description": s.description, "input_schema": s.parameters} for s in self.env.tools()]
        return [reset, *own]

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
        """Run one tool; returns (text, structured content, is_error)."""
        if name == RESET_TOOL:
            return await self._reset(arguments)
        if not self.is_running:
            return f"no episode is running; call {RESET_TOOL} first", {}, True
        call = ToolCall(id=f"mcp-{next(self._ids)}", name=name, arguments=arguments)
        try:
            result = await self.env.step(Action(tool_calls=[call]))
        except ResetNeeded as e:
            self.is_running = False
            return f"{e}; call {RESET_TOOL} first", {}, True
        self.is_running = not (result.terminated or result.truncated)
        status = {"reward": result.reward, "terminated": result.terminated, "truncated": result.truncated,
                  "error": result.error, "verdict": result.verdict.model_dump() if result.verdict else None}
        text = "\n".join(m.content for m in result.observation.messages)
        if not self.is_running:
            text += f"\n[episode ended: reward {result.reward:g}; call {RESET_TOOL} for another]"
        return text, status, result.error is not None

    async def _reset(self, arguments: dict[str, Any]) -> tuple[str, dict[str, Any], bool]:
        try:
            if arguments.get("task") is not None:
                task = Task.model_validate(arguments["task"])
            else:
                index = int(arguments.get("task_index", 0))
                if not self.tasks:
                    return "this server has no task list; pass a full task object as `task`", {}, True
                if not 0 <= index < len(self.tasks):
                    return f"task_index must be in [0, {len(self.tasks)}), got {index}", {}, True
                task = self.tasks[index]
        except (ValueError, TypeError) as e:
            return f"bad task: {e}", {}, True
        seed = arguments.get("seed")
        observation = await self.env.reset(task, seed=int(seed) if seed is not None else None)
        self.is_running = True
        text = "\n\n".join(f"[{m.role}]\n{m.content}" for m in observation.messages)
        return text, {"task_id": task.id}, False


def _default_tasks(env: Any) -> list[Task]:
    """16 tasks from the env's own generator, or none (clients then pass whole task objects)."""
    if not hasattr(env, "sample_tasks"):
        return []
    try:
        return list(env.sample_tasks(16, seed=0))
    except AgentGymError:
        return []


def build_mcp_server(env: Any, tasks: Sequence[Task] | None = None) -> Any:
    """An `mcp.server.lowlevel.Server` (mcp >= 2) exposing `env`; run it on any MCP transport."""
    require_mcp("Serving an env over MCP")
    import mcp_types as types
    from mcp.server.lowlevel import Server

    logic = EnvToolServer(env, tasks)

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=[types.Tool(**spec) for spec in logic.tool_specs()])

    async def call_tool(ctx: Any, params: Any) -> Any:
        text, status, is_error = await logic.call(params.name, dict(params.arguments or {}))
        text, status = utf8_safe(text), utf8_safe(status)  # the SDK's writer dies on a lone surrogate
        return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=status or None,
                                    is_error=is_error)

    return Server(f"agentgym-{env.name}", on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_mcp_async(env: Any, tasks: Sequence[Task] | None = None) -> None:
    """Serve `env` over MCP on this process's stdin/stdout until the client disconnects, then close the env."""
    server = build_mcp_server(env, tasks)
    from mcp.server.stdio import stdio_server

    try:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        await env.close()


def serve_mcp(env: Any, tasks: Sequence[Task] | None = None) -> None:
    """Blocking `serve_mcp_async`: ``serve_mcp(agentgym.make("arith"))`` in a script an MCP client launches."""
    import anyio

    anyio.run(serve_mcp_async, env, tasks)
