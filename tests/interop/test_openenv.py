"""OpenEnv interop on 127.0.0.1, both ways, with openenv-core's real client and server.

agentgym → OpenEnv: `agentgym serve ENV --http PORT` is openenv-core's server, and openenv-core's `GenericEnvClient`
plays every built-in env to reward 1. OpenEnv → agentgym: `OpenEnvEnv` plays an OpenEnv server (agentgym's own, or a
tiny openenv-core env defined here) through `agentgym.make` and the rollout loop.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Any

import pytest

pytest.importorskip("openenv.core", reason="pip install 'agentgym-rl[openenv]'")

from openenv.core import GenericEnvClient  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from openenv.core.env_server import Action as OEAction  # noqa: E402
from openenv.core.env_server import Environment, Observation as OEObservation, State, create_app  # noqa: E402

import agentgym  # noqa: E402
from agentgym.api import Action, ToolCall  # noqa: E402
from agentgym.app.openenv_server import OpenEnvServer, serve_openenv  # noqa: E402
from agentgym.errors import DependencyNotInstalled  # noqa: E402
from agentgym.interop import HttpEnv, OpenEnvEnv  # noqa: E402
from agentgym.rollout import ScriptedPolicy, run_episode  # noqa: E402

HEAVY = {"jupyter", "code_repair", "general"}


@pytest.fixture(scope="module")
def arith_server():
    with serve_openenv("arith", max_sessions=4) as server:
        yield server


def http(url: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def play_reference(url: str, env_name: str) -> tuple[Any, Any, Any]:
    """openenv-core's client plays the env's reference solution on its first sample task."""
    local = agentgym.make(env_name)
    try:
        task = local.sample_tasks(1, seed=0)[0]
        action = local.reference_action(task)
    finally:
        await local.close()
    async with GenericEnvClient(base_url=url, message_timeout_s=300) as client:
        first = await client.reset(task=task.model_dump(mode="json"), seed=0)
        last = await client.step(action.model_dump(mode="json"))
    return task, first, last


@pytest.mark.parametrize("env_name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n
                                      for n in ["arith", "search", "rpt", "jupyter", "code_repair", "general"]])
def test_openenv_client_plays_every_builtin_env_served_by_the_cli(env_name):
    proc = subprocess.Popen([sys.executable, "-m", "agentgym.app.cli", "serve", env_name, "--http", "0"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        line = proc.stderr.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+) \(OpenEnv", line)
        assert match, line
        task, first, last = asyncio.run(play_reference(match.group(1), env_name))
    finally:
        proc.terminate()
        returncode = proc.wait(timeout=60)
        proc.stderr.close()
    assert returncode == 0
    assert first.observation["task_id"] == task.id and task.prompt in first.observation["messages"][1]["content"]
    assert first.observation["tools"] and first.done is False
    assert (last.reward, last.done) == (1.0, True)
    assert last.observation["verdict"]["passed"] is True and last.observation["error"] is None


def test_a_reset_without_a_task_plays_the_seeded_sample_task(arith_server):
    samples = agentgym.make("arith").sample_tasks

    async def run() -> list[str]:
        async with GenericEnvClient(base_url=arith_server.url) as client:
            seeded = await client.reset(seed=7)
            by_id = await client.reset(task_id=samples(1024, seed=0)[5].id)
            with pytest.raises(RuntimeError, match=r"unknown reset arguments \['colour'\]"):
                await client.reset(colour="red")
            wrong = await client.step({"text": "no tool call here"})
            return [seeded.observation["task_id"], by_id.observation["task_id"], wrong.observation["error"]]

    assert asyncio.run(run()) == [samples(1, seed=7)[0].id, samples(1024, seed=0)[5].id, "model_error"]


def test_openenv_http_endpoints_and_the_plain_api_beside_them(arith_server):
    url = arith_server.url
    assert http(url + "/health") == (200, {"status": "healthy"})
    assert http(url + "/metadata")[1]["name"] == "arith"
    schema = http(url + "/schema")[1]
    assert [t["name"] for t in schema["action"]["x-agentgym-tools"]] == ["calculator", "submit"]
    assert {"messages", "verdict", "error"} <= set(schema["observation"]["properties"])
    status, body = http(url + "/reset", {})  # stateless in OpenEnv: a fresh env plays the server's next seed
    assert status == 200 and body["observation"]["messages"][0]["role"] == "system" and body["done"] is False
    status, body = http(url + "/step", {"action": {"text": "hi"}})  # stateless too: there is no episode to step
    assert status == 500
    assert http(arith_server.plain_url + "/health") == (200, {"status": "ok", "env": "arith", "num_sessions": 0})
    remote = HttpEnv(arith_server.plain_url)
    assert remote.name == "arith" and [t.name for t in remote.tools()] == ["calculator", "submit"]


def test_max_sessions_is_openenvs_capacity_limit():
    with serve_openenv("arith", max_sessions=1, plain_prefix=None) as server:
        async def run() -> None:
            async with GenericEnvClient(base_url=server.url) as first:
                await first.reset(seed=0)
                async with GenericEnvClient(base_url=server.url) as second:
                    # openenv answers CAPACITY_REACHED and hangs up; the client sees whichever comes first
                    with pytest.raises((RuntimeError, ConnectionClosed), match="CAPACITY_REACHED|1000"):
                        await second.reset(seed=0)
                assert (await first.step({"text": "still here"})).observation["error"] == "model_error"

        asyncio.run(run())


def test_an_agentgym_env_over_openenv_replays_the_in_process_episode(arith_server):
    tasks = agentgym.make("arith").sample_tasks(2, seed=5)
    script = [Action(text="thinking, no call"),
              Action(tool_calls=[ToolCall(id="c1", name="calculator", arguments={"expression": "1/0"})]),
              Action(tool_calls=[ToolCall(id="c2", name="submit", arguments={"answer": tasks[0].data["answer"]})])]
    agentgym.register("openenv-arith", lambda **kw: OpenEnvEnv(arith_server.url, tasks=tasks, **kw))

    async def play(env) -> Any:
        try:
            return await run_episode(env, ScriptedPolicy(list(script)), tasks[0], seed=3)
        finally:
            await env.close()

    try:
        remote = asyncio.run(play(agentgym.make("openenv-arith")))
    finally:
        agentgym.registry.default.unregister("openenv-arith")
    local = asyncio.run(play(agentgym.make("arith")))
    assert local.reward == 1.0 and local.num_tool_errors >= 1
    assert remote.model_dump_json() == local.model_dump_json()


# --- a plain openenv-core env, defined the way OpenEnv's docs define one -----------------------------------------
class GuessAction(OEAction):
    """Guess the hidden number."""

    number: int


class GuessObservation(OEObservation):
    hint: str = ""


class GuessEnvironment(Environment):
    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self) -> None:
        super().__init__()
        self.target, self._state = 0, State()

    def reset(self, seed: int | None = None, episode_id: str | None = None, **kwargs: Any) -> GuessObservation:
        self.target, self._state = (seed or 0) % 10, State(episode_id=episode_id)
        return GuessObservation(hint="a number from 0 to 9")

    def step(self, action: GuessAction, timeout_s: float | None = None, **kwargs: Any) -> GuessObservation:
        self._state.step_count += 1
        if action.number == self.target:
            return GuessObservation(hint="right", reward=1.0, done=True)
        return GuessObservation(hint="higher" if action.number < self.target else "lower", reward=0.0)

    @property
    def state(self) -> State:
        return self._state


def test_a_generic_openenv_env_plays_through_make_and_the_rollout_loop():
    app = create_app(GuessEnvironment, GuessAction, GuessObservation, max_concurrent_envs=4)
    with OpenEnvServer(app, None, "127.0.0.1", 0, plain_prefix=None) as server:
        agentgym.register("guess", lambda **kw: OpenEnvEnv(server.url, name="guess", **kw))
        try:
            env = agentgym.make("guess")
            (act,) = env.tools()
            assert act.name == "act" and act.parameters["required"] == ["number"]
            task = env.sample_tasks(1, seed=7)[0]
            assert task.data == {"reset": {"seed": 7}}

            def guess(n: Any) -> Action:
                return Action(tool_calls=[ToolCall(id=f"g{n}", name="act", arguments={"number": n})])

            policy = ScriptedPolicy([guess("seven"), guess(3), guess(7)])
            trajectory = asyncio.run(run_episode(env, policy, task, seed=None))
            asyncio.run(env.close())
        finally:
            agentgym.registry.default.unregister("guess")
    assert '"hint": "a number from 0 to 9"' in trajectory.messages[1].content
    tool_messages = [m.content for m in trajectory.messages if m.role == "tool"]
    assert tool_messages[0].startswith("error: ") and '"hint": "higher"' in tool_messages[1]
    assert (trajectory.reward, trajectory.verdict.passed, trajectory.num_tool_errors) == (1.0, True, 1)


def test_without_openenv_core_the_error_is_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "openenv.core", None)
    with pytest.raises(DependencyNotInstalled, match=r"pip install 'agentgym-rl\[openenv\]'"):
        serve_openenv("arith")
