"""`eval` against an OpenAI-compatible endpoint (a fake server on 127.0.0.1): token counts come from the server."""

from __future__ import annotations

import re

from fake_openai import FakeOpenAIServer, chat_response

from agentgym.eval import EvalConfig, run_eval
from agentgym.rollout import read_trajectories

EXPRESSION = re.compile(r"Compute the value of (?P<expr>.+?)\. Use")


def calculator_then_submit(body):
    """Turn 1: call the calculator on the task's expression; turn 2: submit what it returned."""
    last = body["messages"][-1]
    if last["role"] == "tool":
        return chat_response(tool_calls=[{"name": "submit", "arguments": {"answer": float(last["content"])}}])
    expression = EXPRESSION.search(body["messages"][1]["content"])["expr"]
    return chat_response(tool_calls=[{"name": "calculator", "arguments": {"expression": expression}}],
                         reasoning="use the tool")


def test_eval_with_an_openai_policy_records_server_token_counts(tmp_path):
    with FakeOpenAIServer(calculator_then_submit) as server:
        [m] = run_eval(EvalConfig(envs=("arith",), num_samples=2, num_tasks=3, concurrency=4),
                       f"openai:fake@{server.base_url}", tmp_path)
    assert m.pass_at_k == {1: 1.0, 2: 1.0} and m.mean_turns == 2.0
    # The fake server reports 11 prompt and 7 completion tokens per request; each episode makes two requests.
    assert (m.mean_prompt_tokens, m.mean_completion_tokens, m.token_unit) == (22, 14, "tokens reported by the policy")
    assert len(server.requests) == 12
    stored = list(read_trajectories(tmp_path / "trajectories" / "arith.jsonl"))
    assert {t.num_completion_tokens for t in stored} == {14}
    assert stored[0].messages[2].reasoning == "use the tool"
