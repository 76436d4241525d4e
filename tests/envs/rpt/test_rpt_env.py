"""The `rpt` env: contract, both answer paths (box and submit), format mistakes, shipped tasks, oracle and wrong policies."""

from __future__ import annotations

import json

import pytest

from agentgym.api import Action, Task, ToolCall
from agentgym.checker import check_env
from agentgym.envs.rpt import RptEnv
from agentgym.envs.rpt.tasks import SHIPPED_TASKS, read_tasks
from agentgym.envs.rpt.verify import score_prediction
from agentgym.errors import ResetNeeded
from agentgym.rollout.loop import run_episode
from agentgym.rollout.scripted import ScriptedPolicy

SHIPPED = read_tasks(SHIPPED_TASKS)


def fox_task(num_tokens: int = 1) -> Task:
    return Task(id="fox", env="rpt", prompt="The quick brown ",
                data={"prefix": "The quick brown ", "continuation": "fox jumps over", "token_ends": [3, 9, 14],
                      "num_tokens": num_tokens, "answer": "fox jumps"[: 3 if num_tokens == 1 else 9]})


def submit(answer: str) -> Action:
    return Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": answer})])


async def play(action: Action, task: Task | None = None, env: RptEnv | None = None):
    env = env or RptEnv()
    await env.reset(task or fox_task(), seed=0)
    return await env.step(action)


# --- contract --------------------------------------------------------------------------------------------------------
def test_contract_checker_passes():
    results = check_env(lambda: RptEnv())
    assert [r.name for r in results] == ["tools", "step before reset", "reset", "reference solves",
                                         "wrong answer fails", "reference policy", "bad actions", "determinism",
                                         "close twice", "gymnasium"]
    assert all(r.passed for r in results)


async def test_reset_shows_the_prefix_but_not_the_continuation():
    task = SHIPPED[0]
    obs = await RptEnv().reset(task, seed=0)
    assert [m.role for m in obs.messages] == ["system", "user"]
    assert task.data["prefix"] in obs.messages[1].content
    assert task.data["continuation"] not in obs.text
    assert "\\boxed{" in obs.messages[0].content


async def test_step_before_reset_raises():
    with pytest.raises(ResetNeeded):
        await RptEnv().step(Action(text="\\boxed{fox}"))


# --- the boxed-text answer path --------------------------------------------------------------------------------------
async def test_a_boxed_reply_ends_the_episode_with_its_verdict():
    result = await play(Action(text="Brown things in this proverb... a fox. \\boxed{fox}"))
    assert result.terminated and not result.truncated and result.error is None
    assert result.reward == 1.0 and result.verdict.passed
    assert result.observation.messages[0].role == "user"
    assert result.info["num_boxes"] == 1


async def test_the_last_of_two_boxes_counts():
    right_last = await play(Action(text="\\boxed{dog}? No: \\boxed{fox}"))
    right_first = await play(Action(text="\\boxed{fox}? No: \\boxed{dog}"))
    assert right_last.reward == 1.0 and right_last.info["num_boxes"] == 2
    assert right_first.reward == 0.0 and right_first.terminated


async def test_an_empty_box_is_an_answer_and_earns_zero():
    result = await play(Action(text="\\boxed{}"))
    assert result.terminated and result.reward == 0.0 and not result.verdict.passed
    assert result.verdict.reasons[0].startswith("empty prediction")


async def test_box_content_is_not_stripped():
    assert (await play(Action(text="\\boxed{ fox}"))).reward == 0.0
    assert (await play(Action(text="\\boxed{fox jumps}"))).reward == 1.0


async def test_nested_braces_in_the_box():
    task = Task(id="braces", env="rpt", prompt="x = ",
                data={"continuation": "{a: {b}} + 1", "token_ends": [1, 2, 3, 5, 6, 7, 8, 10, 12], "answer": "{"})
    assert (await play(Action(text="\\boxed{{a: {b}}}"), task)).reward == 1.0
    assert (await play(Action(text="\\boxed{{}"), task)).reward == 0.0


async def test_a_reply_without_an_answer_is_a_format_mistake_that_costs_a_turn():
    env = RptEnv(max_turns=2)
    await env.reset(fox_task(), seed=0)
    first = await env.step(Action(text="I think it is fox."))
    assert first.error == "model_error" and not first.terminated and not first.truncated
    assert "No answer found" in first.observation.messages[0].content
    second = await env.step(Action(text="still thinking \\boxed{fo"))
    assert second.error == "model_error" and second.truncated
    assert "never closed" in second.observation.messages[0].content
    assert second.info["truncation_reason"] == "turn budget of 2 steps reached"
    with pytest.raises(ResetNeeded):
        await env.step(Action(text="\\boxed{fox}"))


async def test_a_closed_box_followed_by_an_unclosed_one_is_a_format_mistake():
    result = await play(Action(text="\\boxed{fox} or maybe \\boxed{dog"))
    assert result.error == "model_error" and not result.terminated


async def test_a_reply_with_a_tool_call_is_handled_as_tool_calls():
    text = 'Maybe \\boxed{dog}.\n<tool_call>\n{"name": "submit", "arguments": {"answer": "fox"}}\n</tool_call>'
    result = await play(Action(text=text))
    assert result.terminated and result.reward == 1.0
    assert result.observation.messages[0].role == "tool"


@pytest.mark.parametrize("text", ["", "   ", "\\boxed", "\\boxed{", "}}{{", "<tool_call>", "<tool_call>{}</tool_call>",
                                  "\\boxed{\\boxed{fox}", "x" * 200_000 + "\\boxed{fox"])
async def test_malformed_replies_become_observations(text):
    result = await play(Action(text=text))
    assert result.error == "model_error" and result.observation.messages and not result.terminated


# --- the submit tool path --------------------------------------------------------------------------------------------
async def test_submit_judges_its_argument_verbatim():
    assert (await play(submit("fox"))).reward == 1.0
    assert (await play(submit("\\boxed{fox}"))).reward == 0.0
    bad = await play(Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": 3})]))
    assert bad.error == "model_error" and not bad.terminated


async def test_multi_token_task_through_both_paths():
    task = fox_task(num_tokens=2)
    assert (await play(submit("fox"), task)).reward == 0.0
    assert (await play(Action(text="\\boxed{fox jumps}"), task)).reward == 1.0


# --- shipped tasks, sampling ----------------------------------------------------------------------------------------
def test_shipped_tasks_are_consistent():
    assert 50 <= len(SHIPPED) and SHIPPED_TASKS.stat().st_size < 300_000
    assert len({t.id for t in SHIPPED}) == len(SHIPPED)
    for task in SHIPPED:
        data = task.data
        cont = data["continuation"].encode("utf-8")
        assert data["token_ends"] == sorted(data["token_ends"]) and data["token_ends"][-1] == len(cont)
        assert data["answer"] and not data["answer"][0].isspace()
        assert data["prefix"] in task.prompt and data["prefix"] + data["continuation"] not in task.prompt
        assert score_prediction(data["answer"], data["continuation"], data["token_ends"], data["num_tokens"]).passed


def test_sample_tasks_is_seeded():
    env = RptEnv()
    assert env.sample_tasks(8, seed=3) == env.sample_tasks(8, seed=3)
    assert env.sample_tasks(8, seed=3) != env.sample_tasks(8, seed=4)
    assert len({t.id for t in env.sample_tasks(len(SHIPPED), seed=0)}) == len(SHIPPED)
    with pytest.raises(ValueError, match=r"n must be an integer in \[0, "):
        env.sample_tasks(len(SHIPPED) + 1, seed=0)


def test_a_custom_task_file(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(fox_task().model_dump()) + "\n", encoding="utf-8")
    assert RptEnv(task_file=path).sample_tasks(1, seed=0)[0].id == "fox"
    path.write_text(json.dumps({"id": "x", "env": "rpt", "prompt": "p", "data": {}}) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"tasks.jsonl:1: task 'x' lacks data fields \['continuation', "):
        RptEnv(task_file=path)
    with pytest.raises(ValueError, match="does not exist"):
        RptEnv(task_file=tmp_path / "missing.jsonl")


# --- oracle and wrong-answer policies over every shipped task --------------------------------------------------------
def wrong_answers(answer: str) -> list[str]:
    return ["zq" + answer, answer + " (wrong)", "\ufffd", answer.swapcase() if answer.swapcase() != answer else "#"]


async def test_a_scripted_oracle_policy_solves_the_shipped_tasks():
    env = RptEnv()
    solved = 0
    for task in SHIPPED:
        text = f"The text is about Python; the next token is most likely this.\n\\boxed{{{task.data['answer']}}}"
        trajectory = await run_episode(env, ScriptedPolicy([text]), task, seed=0)
        solved += trajectory.reward == 1.0 and trajectory.terminated
    assert solved / len(SHIPPED) >= 0.95
    assert solved == len(SHIPPED)  # the generator only keeps answers that fit in a box


async def test_a_wrong_answer_policy_gets_zero_on_every_shipped_task():
    env = RptEnv()
    num_episodes = 0
    for task in SHIPPED:
        for wrong in wrong_answers(task.data["answer"]):
            for action in (Action(text=f"\\boxed{{{wrong}}}"), submit(wrong)):
                trajectory = await run_episode(env, ScriptedPolicy([action]), task, seed=0)
                assert trajectory.reward == 0.0 and trajectory.terminated, (task.id, wrong)
                num_episodes += 1
    assert num_episodes == 8 * len(SHIPPED)
