"""OpenAIPolicy against a fake OpenAI-compatible server on 127.0.0.1: requests, native tool calls, raw-text calls."""

from __future__ import annotations

import asyncio
import json

import pytest

import agentgym
from agentgym.errors import PolicySpecError
from agentgym.rollout import run_episode
from agentgym.rollout.openai_policy import OpenAIPolicy, to_openai_messages
from agentgym.rollout.specs import make_policy
from fake_openai import FakeOpenAIServer, chat_response


def solving_responder(answer_of):
    """Turn 1: a native calculator call; turn 2: submit the calculator's result."""

    def respond(body):
        last = body["messages"][-1]
        if last["role"] == "tool":
            return chat_response(None, [{"id": "c2", "name": "submit", "arguments": {"answer": float(last["content"])}}])
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        return chat_response("let me compute", [{"id": "c1", "name": "calculator",
                                                 "arguments": {"expression": answer_of(user)}}], reasoning="think")

    return respond


def test_openai_policy_solves_arith_with_native_tool_calls():
    task = agentgym.make("arith").sample_tasks(1, seed=4)[0]
    with FakeOpenAIServer(solving_responder(lambda user: task.data["expression"])) as server:
        policy = OpenAIPolicy(model="fake-model", base_url=server.base_url, temperature=0.5, max_tokens=64)
        traj = asyncio.run(run_episode(agentgym.make("arith"), policy, task, seed=0))
    assert traj.reward == 1.0 and traj.terminated
    first, second = server.requests[0]["body"], server.requests[1]["body"]
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["auth"] == "Bearer EMPTY"
    assert first["model"] == "fake-model" and first["temperature"] == 0.5 and first["max_tokens"] == 64
    assert [t["function"]["name"] for t in first["tools"]] == ["calculator", "submit"]
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    # the second request carries the assistant tool call and its tool result, linked by id
    assert second["messages"][2]["tool_calls"][0]["id"] == "c1"
    assert second["messages"][3] == {"role": "tool", "content": str(task.data["answer"]), "tool_call_id": "c1",
                                     "name": "calculator"}
    assert traj.messages[2].reasoning == "think"


def test_malformed_arguments_reach_the_env_as_raw_text():
    task = agentgym.make("arith").sample_tasks(1, seed=4)[0]
    replies = iter([chat_response(None, [{"id": "x", "name": "calculator", "arguments": '{"expression": "1+'}]),
                    chat_response(None, [{"id": "y", "name": "submit", "arguments": {"answer": task.data["answer"]}}])])
    with FakeOpenAIServer(lambda body: next(replies)) as server:
        policy = OpenAIPolicy.from_spec(f"openai:fake@{server.base_url}")
        traj = asyncio.run(run_episode(agentgym.make("arith"), policy, task))
    assert traj.num_tool_errors == 1 and traj.reward == 1.0
    assert traj.messages[3].content.startswith("error: tool 'calculator': arguments are not valid JSON")


def test_text_tool_calls_from_a_server_without_tool_support():
    task = agentgym.make("arith").sample_tasks(1, seed=4)[0]

    def respond(body):
        if body["messages"][-1]["role"] == "user" and body["messages"][-1]["content"].startswith("[calculator"):
            value = body["messages"][-1]["content"].split("] ", 1)[1]
            return chat_response(f'<tool_call>{{"name": "submit", "arguments": {{"answer": {value}}}}}</tool_call>')
        expr = json.dumps(task.data["expression"])
        return chat_response(f'<tool_call>{{"name": "calculator", "arguments": {{"expression": {expr}}}}}</tool_call>')

    with FakeOpenAIServer(respond) as server:
        policy = OpenAIPolicy(model="m", base_url=server.base_url, native_tools=False)
        traj = asyncio.run(run_episode(agentgym.make("arith"), policy, task))
    assert "tools" not in server.requests[0]["body"]
    assert traj.reward == 1.0


def test_tool_results_without_a_known_call_become_user_messages():
    msgs = [agentgym.Message(role="assistant", content="<tool_call>...</tool_call>"),
            agentgym.Message(role="tool", name="calculator", tool_call_id="call_0", content="35")]
    assert to_openai_messages(msgs)[1] == {"role": "user", "content": "[calculator result] 35"}


def test_unreachable_endpoint_is_an_env_error_not_a_crash():
    task = agentgym.make("arith").sample_tasks(1, seed=4)[0]
    with FakeOpenAIServer(lambda body: chat_response("x")) as server:
        url = server.base_url
    policy = OpenAIPolicy(model="m", base_url=url, max_retries=0, timeout_s=2)
    traj = asyncio.run(run_episode(agentgym.make("arith"), policy, task))
    assert traj.error == "env_error" and traj.info["failure"].startswith("policy.act: APIConnectionError")


@pytest.mark.parametrize("spec", ["openai:model", "openai:@http://x", "vllm:foo", "scripted:", "nonsense"])
def test_bad_policy_specs_say_what_is_accepted(spec):
    with pytest.raises(PolicySpecError, match="expected|does not exist"):
        make_policy(spec)


def test_cli_rollout_against_the_fake_endpoint(tmp_path):
    from typer.testing import CliRunner

    from agentgym.app.cli import app
    from agentgym.rollout import read_trajectories
    from agentgym.taskio import save_tasks

    tasks = agentgym.make("arith").sample_tasks(3, seed=2)
    save_tasks(tmp_path / "tasks.jsonl", tasks)
    by_prompt = {t.prompt: t.data["expression"] for t in tasks}
    out = tmp_path / "trajs.jsonl"
    with FakeOpenAIServer(solving_responder(lambda user: by_prompt[user])) as server:
        result = CliRunner().invoke(app, ["rollout", "--env", "arith", "--tasks", str(tmp_path / "tasks.jsonl"),
                                          "--policy", f"openai:fake@{server.base_url}", "--out", str(out),
                                          "--n", "2", "--concurrency", "3"])
    assert result.exit_code == 0, result.output
    trajs = list(read_trajectories(out))
    assert len(trajs) == 6 and all(t.reward == 1.0 for t in trajs)
    assert len(server.requests) == 12
