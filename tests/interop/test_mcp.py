"""MCP interop: an MCP server's tools as an agentgym env (`MCPToolsEnv`), and an agentgym env as an MCP server."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import types

import pytest

from agentgym.api import Action, Task, ToolCall
from agentgym.checker import check_env
from agentgym.interop import (
    MCPConnection,
    MCPConnectionError,
    MCPServerConfig,
    MCPToolsEnv,
)

pytest.importorskip("mcp", reason="the MCP adapters need the `mcp` extra")

# A small stdio MCP server: `lookup` answers or reports an agent error (is_error); `crash` fails at protocol level.
SERVER = textwrap.dedent('''
    import anyio, mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    CAPITALS = {"france": "Paris", "japan": "Tokyo", "peru": "Lima"}
    TOOLS = [
        types.Tool(name="lookup", description="The capital of a country.", input_schema={
            "type": "object", "properties": {"country": {"type": "string"}}, "required": ["country"]}),
        types.Tool(name="crash", description="Always fails.", input_schema={"type": "object", "properties": {}}),
    ]

    async def list_tools(ctx, params):
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx, params):
        if params.name == "crash":
            raise RuntimeError("disk on fire")
        country = (params.arguments or {}).get("country", "")
        if country.lower() not in CAPITALS:
            return types.CallToolResult(content=[types.TextContent(text=f"unknown country {country!r}")],
                                        is_error=True)
        return types.CallToolResult(content=[types.TextContent(text=CAPITALS[country.lower()])])

    server = Server("capitals", on_list_tools=list_tools, on_call_tool=call_tool)

    async def main():
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
''')

TASKS = [Task(id=f"cap-{c}", env="capitals", prompt=f"What is the capital of {c.title()}?", data={"answer": a})
         for c, a in [("france", "Paris"), ("japan", "Tokyo"), ("peru", "Lima")]]


@pytest.fixture(scope="module")
def server_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("mcp") / "capitals_server.py"
    path.write_text(SERVER)
    return str(path)


@pytest.fixture(scope="module")
def connection(server_script):
    with MCPConnection(MCPServerConfig(command=sys.executable, args=[server_script])) as conn:
        yield conn


def call(name: str, **arguments) -> Action:
    return Action(tool_calls=[ToolCall(id=f"id-{name}", name=name, arguments=arguments)])


def test_mcp_tools_become_env_tools_from_their_input_schema(connection):
    env = MCPToolsEnv(connection=connection, tasks=TASKS)
    specs = {s.name: s for s in env.tools()}
    assert list(specs) == ["lookup", "crash", "submit"]
    assert specs["lookup"].description == "The capital of a country."
    assert specs["lookup"].parameters == {"type": "object", "properties": {"country": {"type": "string"}},
                                          "required": ["country"]}


def test_an_episode_forwards_calls_and_scores_the_submission(connection):
    env = MCPToolsEnv(connection=connection, tasks=TASKS, name="capitals")

    async def run():
        obs = await env.reset(TASKS[1], seed=0)
        steps = [await env.step(a) for a in (call("lookup", country="Japan"), call("lookup", country="Mars"),
                                             call("crash"), call("lookup", city="Kyoto"), call("submit", answer="tokyo."))]
        await env.close()
        return obs, steps

    obs, (found, unknown, crash, bad_args, submitted) = asyncio.run(run())
    assert [m.content for m in obs.messages][1] == "What is the capital of Japan?"
    assert (found.observation.messages[0].content, found.error) == ("Tokyo", None)
    assert found.observation.messages[0].tool_call_id == "id-lookup"
    assert (unknown.observation.messages[0].content, unknown.error) == ("error: unknown country 'Mars'", "model_error")
    assert crash.error == "env_error" and "disk on fire" in crash.observation.messages[0].content
    assert bad_args.error == "model_error" and "unexpected argument 'city'" in bad_args.observation.messages[0].content
    assert (submitted.reward, submitted.terminated, submitted.verdict.passed) == (1.0, True, True)
    assert submitted.verdict.reasons == ["exact_match: answer 'tokyo.' vs reference 'Tokyo' scores 1 (>= 1)"]


def test_mcp_tools_env_passes_check_env(connection):
    results = check_env(lambda: MCPToolsEnv(connection=connection, tasks=TASKS, name="capitals"))
    assert all(r.passed for r in results) and results[-1].name == "gymnasium"
    assert not connection.is_closed  # envs never close a connection they were given


def partial_scorer(answer: str, task: Task) -> float:
    return 0.5 if answer.startswith(task.data["answer"][0]) else 0.0


def test_the_scorer_is_pluggable_by_callable_or_by_name(connection):
    for scorer in (partial_scorer, f"{__name__}:partial_scorer"):
        env = MCPToolsEnv(connection=connection, scorer=scorer, pass_threshold=0.5)

        async def run(env=env):
            await env.reset(TASKS[2], seed=0)
            return await env.step(call("submit", answer="Lyon"))

        result = asyncio.run(run())
        assert (result.reward, result.verdict.passed) == (0.5, True)
    with pytest.raises(ValueError, match="scorer 'no_such_module_x:f' cannot be loaded"):
        MCPToolsEnv(connection=connection, scorer="no_such_module_x:f")


def test_an_env_that_starts_its_own_server_stops_it_on_close(server_script):
    env = MCPToolsEnv(command=sys.executable, args=[server_script], tasks=TASKS)

    async def run():
        await env.reset(TASKS[0], seed=0)
        result = await env.step(call("lookup", country="France"))
        conn = env.connection
        await env.close()
        return result, conn

    result, conn = asyncio.run(run())
    assert result.observation.messages[0].content == "Paris"
    assert conn.is_closed and env.connection is None
    with pytest.raises(MCPConnectionError, match="the MCP connection is closed"):
        conn.call_tool_sync("lookup", {"country": "France"})


def test_a_server_that_does_not_start_gives_a_one_line_error():
    env = MCPToolsEnv(command="/nonexistent/agentgym-mcp-server", tasks=TASKS)
    with pytest.raises(MCPConnectionError, match=r"^could not start MCP server '/nonexistent/agentgym-mcp-server'"):
        env.tools()
    with pytest.raises(ValueError, match="exactly one of command"):
        MCPToolsEnv(tasks=TASKS)


@pytest.mark.slow
def test_an_agentgym_env_served_over_mcp_is_playable_with_the_mcp_client():
    """`agentgym serve arith --mcp`, driven by the mcp SDK's own stdio client."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    import agentgym

    task = agentgym.make("arith").sample_tasks(16, seed=0)[2]

    async def run():
        params = StdioServerParameters(command=sys.executable,
                                       args=["-m", "agentgym.app.cli", "serve", "arith", "--mcp"])
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            early = await session.call_tool("calculator", {"expression": "1+1"})
            reset = await session.call_tool("reset_episode", {"task_index": 2, "seed": 0})
            calc = await session.call_tool("calculator", {"expression": task.data["expression"]})
            bad = await session.call_tool("calculator", {"expr": "1"})
            done = await session.call_tool("submit", {"answer": task.data["answer"]})
            by_object = await session.call_tool("reset_episode", {"task": task.model_dump(mode="json")})
            return tools, early, reset, calc, bad, done, by_object

    tools, early, reset, calc, bad, done, by_object = asyncio.run(run())
    assert list(tools) == ["reset_episode", "calculator", "submit"]
    assert tools["calculator"].input_schema["required"] == ["expression"]
    assert early.is_error and early.content[0].text == "no episode is running; call reset_episode first"
    assert not reset.is_error and task.prompt in reset.content[0].text and reset.structured_content == {"task_id": task.id}
    assert (calc.content[0].text, calc.is_error) == (str(task.data["answer"]), False)
    assert bad.is_error and "unexpected argument 'expr'" in bad.content[0].text
    assert bad.structured_content["error"] == "model_error"
    assert done.structured_content["terminated"] and done.structured_content["reward"] == 1.0
    assert done.structured_content["verdict"]["passed"] is True
    assert not by_object.is_error and by_object.structured_content == {"task_id": task.id}


def test_without_the_mcp_sdk_the_error_is_the_install_command(monkeypatch):
    import agentgym
    from agentgym.errors import DependencyNotInstalled
    from agentgym.app.mcp_server import build_mcp_server

    monkeypatch.setitem(sys.modules, "mcp", None)  # makes `import mcp` fail as if it were not installed
    with pytest.raises(DependencyNotInstalled, match=r"pip install 'agentgym-rl\[mcp\]'"):
        MCPConnection(MCPServerConfig(command=sys.executable))
    with pytest.raises(DependencyNotInstalled, match=r"^Serving an env over MCP needs the Python package 'mcp'"):
        build_mcp_server(agentgym.make("arith"))
    v1 = types.ModuleType("mcp")
    v1.__version__ = "1.9.0"
    monkeypatch.setitem(sys.modules, "mcp", v1)
    monkeypatch.setitem(sys.modules, "mcp_types", None)  # the mcp 1.x layout: no mcp_types package
    with pytest.raises(DependencyNotInstalled, match=r"needs the mcp SDK version 2 or later \(found 1\.9\.0\)"):
        build_mcp_server(agentgym.make("arith"))


# --- text no UTF-8 encoder takes (issue #23) ------------------------------------------------------------------------
def test_a_lone_surrogate_in_an_argument_is_a_model_error_and_the_connection_lives_on(connection):
    env = MCPToolsEnv(connection=connection, tasks=TASKS, name="capitals")

    async def run():
        await env.reset(TASKS[0], seed=0)
        steps = [await env.step(call("lookup", country="Fran\udcffce")), await env.step(call("lookup", country="peru"))]
        await env.close()
        return steps

    odd, after = asyncio.run(run())
    assert odd.error == "model_error" and "unpaired surrogate '\\udcff'" in odd.observation.messages[0].content
    assert (after.observation.messages[0].content, after.error) == ("Lima", None)


SURROGATE_SERVER = textwrap.dedent('''
    import agentgym
    from agentgym.api import Task
    from agentgym.app.mcp_server import serve_mcp

    task = Task(id="odd", env="arith", prompt="what is \\udcff 2+2?", data={"expression": "2+2", "answer": 4})
    serve_mcp(agentgym.make("arith"), [task])
''')


def test_the_mcp_server_survives_a_lone_surrogate_in_its_reply(tmp_path):
    """Its reply shows the surrogate as text; before, the SDK's writer died and the client waited forever."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    script = tmp_path / "server.py"
    script.write_text(SURROGATE_SERVER)

    async def run():
        params = StdioServerParameters(command=sys.executable, args=[str(script)])
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            reset = await session.call_tool("reset_episode", {"task_index": 0})
            done = await session.call_tool("submit", {"answer": 4})
            return reset, done

    reset, done = asyncio.run(asyncio.wait_for(run(), 60))
    assert not reset.is_error and reset.content[0].text.endswith("[user]\nwhat is \\udcff 2+2?")
    assert done.structured_content["reward"] == 1.0
