"""A synchronous-friendly handle on one MCP server over stdio: list its tools, call them, render their results.

The `mcp` SDK's client is a pair of nested async context managers that must be entered and left in the same task.
`MCPConnection` keeps them open on a private background loop (see `loop_thread.LoopThread`), so any caller — an env's
`reset`/`step` on whatever loop, or plain synchronous code — can use one server for as long as it likes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from agentgym.api import ToolSpec
from agentgym.errors import AgentGymError, DependencyNotInstalled, require
from agentgym.interop.loop_thread import LoopThread


class MCPConnectionError(AgentGymError, RuntimeError):
    """The MCP server could not be started, or it stopped answering."""


def require_mcp(feature: str) -> None:
    """Fail with the install command unless the `mcp` SDK, version 2 or later, is importable."""
    mcp = require("mcp", "mcp", feature)
    try:
        import mcp_types  # noqa: F401 - the v2 SDK's types package; v1 has none
    except ImportError:
        version = getattr(mcp, "__version__", "1.x")
        raise DependencyNotInstalled(
            f"{feature} needs the mcp SDK version 2 or later (found {version}). "
            f"Install it with: pip install -U 'mcp>=2'"
        ) from None


@dataclass(frozen=True, kw_only=True, slots=True)
class MCPServerConfig:
    """How to start an MCP server as a subprocess speaking MCP over stdio (user-configured, hence trusted).

    Attributes:
        command: the executable, e.g. ``"python"`` or ``"npx"``.
        args: its arguments, e.g. ``["-m", "my_mcp_server"]``.
        env: extra environment variables for the server process.
        cwd: the server's working directory (default: ours).
        connect_timeout_s: how long starting the server and the MCP handshake may take.
        call_timeout_s: how long one tool call may take before it counts as an env failure.
    """

    command: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    connect_timeout_s: float = 30.0
    call_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.command, str) or not self.command:
            raise ValueError(f"command must be a non-empty string, got {self.command!r}")
        for name in ("connect_timeout_s", "call_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


class MCPConnection:
    """One live MCP client session to a stdio server. Thread-safe; `close()` is idempotent.

    Example::

        with MCPConnection(MCPServerConfig(command="python", args=["my_server.py"])) as conn:
            print([t.name for t in conn.tools])
            print(conn.call_tool_sync("add", {"a": 2, "b": 3}))     # (text, is_error)
    """

    def __init__(self, config: MCPServerConfig) -> None:
        require_mcp("Connecting to an MCP server")
        self.config = config
        self._runner = LoopThread(name=f"mcp:{config.command}")
        self._stop: asyncio.Event | None = None
        self._session: Any = None
        self._holder: Any = None
        self.is_closed = False
        try:
            self.tools: list[ToolSpec] = self._runner.call(self._connect(), timeout=config.connect_timeout_s + 5)
        except BaseException as e:
            self.close()
            if isinstance(e, AgentGymError):
                raise
            raise MCPConnectionError(
                f"could not start MCP server {_command_line(config)!r}: {type(e).__name__}: {_cause(e)}"
            ) from e

    # --- lifecycle (runs on the private loop) -------------------------------------------------------------------
    async def _connect(self) -> list[ToolSpec]:
        ready: asyncio.Future[list[ToolSpec]] = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._holder = asyncio.ensure_future(self._hold(ready))
        return await asyncio.wait_for(asyncio.shield(ready), self.config.connect_timeout_s)

    async def _hold(self, ready: asyncio.Future[list[ToolSpec]]) -> None:
        from mcp import ClientSession, StdioServerParameters, stdio_client

        params = StdioServerParameters(command=self.config.command, args=list(self.config.args),
                                       env=dict(self.config.env) or None, cwd=self.config.cwd)
        try:
            async with stdio_client(params, errlog=_errlog()) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    listing = await session.list_tools()
                    self._session = session
                    if not ready.done():
                        ready.set_result([tool_spec(t) for t in listing.tools])
                    assert self._stop is not None
                    await self._stop.wait()
        except BaseException as e:  # noqa: BLE001 - reported to whoever waits on `ready`
            if not ready.done():
                ready.set_exception(e if isinstance(e, Exception) else RuntimeError(repr(e)))
        finally:
            self._session = None

    async def _shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._holder is not None:
            try:
                await asyncio.wait_for(self._holder, 10)
            except BaseException:  # noqa: BLE001 - closing must not raise
                self._holder.cancel()

    def close(self) -> None:
        """Stop the server process and the background loop. Idempotent."""
        if self.is_closed:
            return
        self.is_closed = True
        try:
            self._runner.call(self._shutdown(), timeout=15)
        except BaseException:  # noqa: BLE001 - best effort; the loop thread is a daemon
            pass
        self._runner.close()

    def __enter__(self) -> MCPConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- calls --------------------------------------------------------------------------------------------------
    async def _call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        if self._session is None:
            raise MCPConnectionError(f"MCP server {_command_line(self.config)!r} is no longer connected")
        result = await self._session.call_tool(name, arguments, read_timeout_seconds=self.config.call_timeout_s)
        return render_result(result), bool(getattr(result, "is_error", getattr(result, "isError", False)))

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """Call tool `name` from any event loop; returns (rendered result, the server's is_error flag).

        Raises:
            MCPConnectionError: the connection is closed or gone.
            Exception: whatever the SDK raised for a protocol-level error (the caller labels it an env failure).
        """
        if self.is_closed:
            raise MCPConnectionError("the MCP connection is closed")
        return await asyncio.wait_for(self._runner.run(self._call(name, arguments)), self.config.call_timeout_s + 5)

    def call_tool_sync(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        """`call_tool` for synchronous code (not from inside a running event loop)."""
        if self.is_closed:
            raise MCPConnectionError("the MCP connection is closed")
        return self._runner.call(self._call(name, arguments), timeout=self.config.call_timeout_s + 5)


def tool_spec(tool: Any) -> ToolSpec:
    """An MCP `Tool` as an agentgym `ToolSpec` (its input schema becomes the parameters schema)."""
    schema = getattr(tool, "input_schema", None) or getattr(tool, "inputSchema", None) or {}
    schema = dict(schema)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    try:
        return ToolSpec(name=tool.name, description=tool.description or "", parameters=schema)
    except ValueError as e:
        raise MCPConnectionError(
            f"MCP tool {tool.name!r} cannot be an agentgym tool (names must match [A-Za-z_][A-Za-z0-9_.-]{{0,63}}): {e}"
        ) from None


def render_result(result: Any) -> str:
    """The text an agent sees for a `CallToolResult`: text blocks as-is, other blocks as short placeholders, and the
    structured content as JSON when there is no text."""
    import json

    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            parts.append(f"[{kind}: {getattr(block, 'mime_type', getattr(block, 'mimeType', '?'))}]")
        elif kind == "resource":
            resource = block.resource
            parts.append(getattr(resource, "text", None) or f"[resource: {resource.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource: {block.uri}]")
        else:
            parts.append(f"[{kind or 'unknown'} content]")
    structured = getattr(result, "structured_content", getattr(result, "structuredContent", None))
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, sort_keys=True))
    return "\n".join(parts)


def _command_line(config: MCPServerConfig) -> str:
    return " ".join([config.command, *config.args])


def _cause(e: BaseException) -> str:
    """The innermost message of an exception group (anyio wraps transport failures in one)."""
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return str(e) or type(e).__name__


def _errlog() -> Any:
    """Where the server's stderr goes: ours when it is a real file (pytest may replace it with one that is not)."""
    try:
        sys.stderr.fileno()
        return sys.stderr
    except (AttributeError, OSError, ValueError):
        return open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
