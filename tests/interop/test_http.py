"""The plain HTTP adapter: `serve_http` + `HttpEnv` replay in-process episodes byte for byte on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest

import agentgym
from agentgym.api import Action, Task, ToolCall
from agentgym.checker import check_env
from agentgym.errors import ResetNeeded
from agentgym.app.http_server import serve_http
from agentgym.interop import HttpEnv, HttpEnvError
from agentgym.rollout import ScriptedPolicy, run_episode


@pytest.fixture(scope="module")
def server():
    srv = serve_http("arith", max_sessions=8)
    yield srv
    srv.close()


def post(url: str, body: object, raw: bytes | None = None, method: str = "POST") -> tuple[int, dict]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data if method == "POST" else None, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        assert e.headers["Content-Type"] == "application/json"
        return e.code, json.loads(e.read())


def script(task: Task) -> list[Action]:
    return [
        Action(text=f'<tool_call>{{"name": "calculator", "arguments": {{"expression": "{task.data["expression"]}"}}}}'
                    "</tool_call>"),
        Action(text="I am thinking, no tool call."),
        Action(tool_calls=[ToolCall(id="c1", name="calculator", arguments={"expression": "1/0"})]),
        Action(tool_calls=[ToolCall(id="c2", name="submit", arguments={"answer": task.data["answer"]})]),
    ]


def test_full_episode_over_http_equals_the_in_process_episode(server):
    task = agentgym.make("arith").sample_tasks(1, seed=5)[0]

    async def play(env):
        try:
            return await run_episode(env, ScriptedPolicy(script(task)), task, seed=11)
        finally:
            await env.close()

    local = asyncio.run(play(agentgym.make("arith")))
    remote = asyncio.run(play(HttpEnv(server.url)))
    assert local.reward == 1.0 and local.num_turns == 4
    assert remote.model_dump_json() == local.model_dump_json()


def test_the_http_client_env_passes_check_env(server):
    results = check_env(lambda: HttpEnv(server.url))
    assert [r.name for r in results][-1] == "gymnasium" and all(r.passed for r in results)


def test_concurrent_sessions_are_isolated(server):
    tasks = agentgym.make("arith").sample_tasks(2, seed=1)

    async def run():
        a, b = HttpEnv(server.url), HttpEnv(server.url)
        await asyncio.gather(a.reset(tasks[0], seed=0), b.reset(tasks[1], seed=0))
        assert a.session_id != b.session_id
        # a submits b's answer and b submits its own: each session judges against its own task
        ra, rb = await asyncio.gather(
            a.step(Action(tool_calls=[ToolCall(name="submit", arguments={"answer": tasks[1].data["answer"]})])),
            b.step(Action(tool_calls=[ToolCall(name="submit", arguments={"answer": tasks[1].data["answer"]})])),
        )
        await asyncio.gather(a.close(), b.close())
        return ra, rb

    assert tasks[0].data["answer"] != tasks[1].data["answer"]
    ra, rb = asyncio.run(run())
    assert (ra.reward, rb.reward) == (0.0, 1.0)
    assert post(server.url + "/health", None, method="GET")[1]["num_sessions"] == 0


def test_bad_requests_get_clear_4xx_json_errors(server):
    url = server.url
    task = agentgym.make("arith").sample_tasks(1, seed=0)[0].model_dump(mode="json")
    assert post(url + "/health", None, method="GET") == (200, {"status": "ok", "env": "arith", "num_sessions": 0})
    status, body = post(url + "/reset", None, raw=b"{not json")
    assert status == 400 and body["error"]["type"] == "bad_json"
    status, body = post(url + "/reset", {"seed": 1})
    assert (status, body["error"]["message"]) == (400, "missing field 'task'")
    status, body = post(url + "/reset", {"task": {"id": "x"}})
    assert status == 400 and "invalid task" in body["error"]["message"] and "env" in body["error"]["message"]
    status, body = post(url + "/reset", {"task": task, "seed": "zero"})
    assert (status, body["error"]["message"]) == (400, "seed must be an integer or null, got 'zero'")
    status, body = post(url + "/step", {"session_id": "nope", "action": {"text": "hi"}})
    assert status == 404 and body["error"]["type"] == "unknown_session"
    status, body = post(url + "/step", {"action": {"text": "hi"}})
    assert status == 400 and "session_id must be a string" in body["error"]["message"]
    status, body = post(url + "/nowhere", {})
    assert status == 404 and "endpoints:" in body["error"]["message"]
    status, body = post(url + "/reset", None, method="GET")
    assert status == 405 and body["error"]["message"] == "GET /reset is not allowed; use POST"
    status, body = post(url + "/reset", [1, 2])
    assert status == 400 and "must be a JSON object" in body["error"]["message"]
    # a step after the episode ended is API misuse: 409, which the client raises as ResetNeeded
    status, body = post(url + "/reset", {"task": task, "seed": 0})
    sid = body["session_id"]
    submit = {"tool_calls": [{"name": "submit", "arguments": {"answer": task["data"]["answer"]}}]}
    assert post(url + "/step", {"session_id": sid, "action": submit})[1]["done"] is True
    status, body = post(url + "/step", {"session_id": sid, "action": submit})
    assert status == 409 and body["error"]["type"] == "reset_needed"
    status, body = post(url + "/step", {"session_id": sid, "action": {"tool_calls": "no"}})
    assert status == 400 and body["error"]["message"].startswith("invalid action: tool_calls")
    assert post(url + "/close", {"session_id": sid}) == (200, {"session_id": sid, "closed": True})


def test_client_raises_reset_needed_and_clear_errors(server):
    env = HttpEnv(server.url)
    with pytest.raises(ResetNeeded, match="before reset"):
        asyncio.run(env.step(Action(text="hi")))
    with pytest.raises(HttpEnvError, match=r"cannot reach the env server at http://127\.0\.0\.1:1 "):
        HttpEnv("http://127.0.0.1:1", timeout_s=2)


def test_max_sessions_is_enforced_and_close_frees_a_slot():
    with serve_http("arith", max_sessions=1) as srv:
        task = agentgym.make("arith").sample_tasks(1, seed=0)[0].model_dump(mode="json")
        first = post(srv.url + "/reset", {"task": task})[1]["session_id"]
        status, body = post(srv.url + "/reset", {"task": task})
        assert status == 503 and body["error"]["type"] == "too_many_sessions"
        post(srv.url + "/close", {"session_id": first})
        assert post(srv.url + "/reset", {"task": task})[0] == 200


def test_serve_http_rejects_an_unknown_env_with_the_registry_message():
    with pytest.raises(agentgym.errors.UnregisteredEnv, match="Did you mean 'arith'"):
        serve_http("arth")


# --- text no UTF-8 encoder takes (issue #23): a lone surrogate in a prompt or an action -----------------------------
def test_lone_surrogates_round_trip_through_server_and_client(server):
    task = agentgym.make("arith").sample_tasks(1, seed=0)[0].model_copy(update={"prompt": "what is \udcff 2+2?"})

    async def play():
        env = HttpEnv(server.url)
        try:
            observation = await env.reset(task, seed=0)
            step = await env.step(Action(text="thinking \ud800", tool_calls=[
                ToolCall(id="c1", name="calculator", arguments={"expression": "2+2\udcff"})]))
            return observation, step
        finally:
            await env.close()

    observation, step = asyncio.run(play())
    assert observation.messages[1].content == "what is \udcff 2+2?"
    assert step.error == "model_error" and "unpaired surrogate '\\udcff'" in step.observation.messages[0].content


def test_the_server_answers_a_raw_request_with_a_surrogate_escape(server):
    task = agentgym.make("arith").sample_tasks(1, seed=0)[0].model_dump(mode="json")
    raw = json.dumps({"task": {**task, "prompt": "\udcff"}}).encode()  # ASCII bytes carrying the escape \udcff
    status, body = post(server.url + "/reset", None, raw=raw)
    assert status == 200 and body["observation"]["messages"][1]["content"] == "\udcff"
    step = {"session_id": body["session_id"], "action": {"text": "\udcff", "tool_calls": []}}
    status, reply = post(server.url + "/step", None, raw=json.dumps(step).encode())
    assert status == 200 and reply["error"] == "model_error"
    post(server.url + "/close", {"session_id": body["session_id"]})
