"""Every built-in env's multi-turn reference policy (`reference_policy(task)`), played through the real agent loop.

Each reaches reward 1 through `run_episode`, in at least 2 turns where the env has tools besides `submit`, and every
reply is tool-call text (Hermes `<tool_call>` blocks) that the env parsed, not pre-parsed `Action.tool_calls`.
"""

from __future__ import annotations

import json

import pytest

import agentgym
from agentgym.api import Message, Task
from agentgym.checker import check_reference_policy
from agentgym.errors import ContractViolation
from agentgym.rollout import ScriptedPolicy, run_episode
from agentgym.tools import ToolScript, last_tool_output, parse_tool_calls, tool_call

BUILT_IN = ["arith", "search", "rpt", "jupyter", "code_repair", "general"]
MIN_TURNS = {"arith": 2, "search": 3, "rpt": 1, "jupyter": 2, "code_repair": 3, "general": 2}


def _calls(message: Message) -> list:
    return parse_tool_calls(message.content, "hermes").calls


@pytest.mark.parametrize("name", BUILT_IN)
async def test_reference_policy_reaches_reward_1_through_the_agent_loop(name):
    env = agentgym.make(name)
    try:
        for task in env.sample_tasks(2, seed=0):
            policy = ScriptedPolicy(env.reference_policy(task))
            trajectory = await run_episode(env, policy, task, seed=0, max_turns=64)
            assert trajectory.reward == 1.0 and trajectory.verdict is not None and trajectory.verdict.passed, (
                name, task.id, trajectory.info.get("failure"))
            assert trajectory.error is None and trajectory.num_tool_errors == 0
            replies = [m for m in trajectory.messages if m.role == "assistant"]
            assert len(replies) >= MIN_TURNS[name]
            for m in replies:  # the text a model must write, one call per turn, parsed by the env
                assert not m.tool_calls and m.content.startswith("<tool_call>\n{")
                assert len(_calls(m)) == 1
            assert _calls(replies[-1])[0].name == "submit"
    finally:
        await env.close()


async def test_arith_is_calculator_then_submit_of_the_calculator_output():
    env = agentgym.make("arith")
    try:
        task = env.sample_tasks(1, seed=3)[0]
        trajectory = await run_episode(env, ScriptedPolicy(env.reference_policy(task)), task, seed=0, max_turns=4)
        replies = [m for m in trajectory.messages if m.role == "assistant"]
        assert [_calls(m)[0].name for m in replies] == ["calculator", "submit"]
        assert _calls(replies[0])[0].arguments == {"expression": task.data["expression"]}
        assert trajectory.reward == 1.0
        # the answer is read from the conversation, not from task.data: a stored answer that is wrong is not copied
        wrong = Task(id=task.id, env=task.env, prompt=task.prompt, data={**task.data, "answer": task.data["answer"] + 1})
        trajectory = await run_episode(env, ScriptedPolicy(env.reference_policy(wrong)), wrong, seed=0, max_turns=4)
        submitted = _calls([m for m in trajectory.messages if m.role == "assistant"][1])[0].arguments["answer"]
        assert submitted == task.data["answer"] and trajectory.reward == 0.0
        # and a calculator that printed something else is what gets submitted
        script = env.reference_policy(task)
        seen = [Message(role="user", content=task.prompt), Message(role="assistant", content="..."),
                Message(role="tool", name="calculator", content="12345")]
        assert json.loads(script(seen, []).text.split("\n")[1])["arguments"] == {"answer": 12345}
    finally:
        await env.close()


def test_tool_script_plays_one_step_per_turn_and_reads_the_conversation():
    script = ToolScript([tool_call("a", x=1), lambda m: tool_call("b", seen=last_tool_output(m, "a"))])
    assert script([], []).text == '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>'
    history = [Message(role="assistant", content="..."), Message(role="tool", name="a", content="out")]
    assert script(history, []).text == '<tool_call>\n{"name": "b", "arguments": {"seen": "out"}}\n</tool_call>'
    assert script(history + [Message(role="assistant")], []).text == ""
    assert tool_call("f", name="x").arguments == {"name": "x"}  # a tool argument may be called `name`
    with pytest.raises(ValueError, match="at least one step"):
        ToolScript([])


async def test_checker_rejects_a_reference_policy_that_does_not_solve():
    env = agentgym.make("arith")
    try:
        task = env.sample_tasks(1, seed=0)[0]
        env.reference_policy = lambda t: ToolScript([tool_call("submit", answer=t.data["answer"] + 1)])
        with pytest.raises(ContractViolation, match=r"^reference_policy did not pass task 'arith-0-0' in 1 turns: "):
            await check_reference_policy(env, [task])
    finally:
        await env.close()
