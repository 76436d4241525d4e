"""Rubric rewards from a generative judge: score parsing (malformed output is a labelled error), caching, batched
judge calls, the per-env verifier/rubric mix through the env factory, and group ranking (relative judging)."""

from __future__ import annotations

import asyncio
import json

import pytest
from fake_openai import FakeOpenAIServer, chat_response

from agentgym.api import Action, Task, ToolCall, Trajectory, Message, Verdict
from agentgym.rl.build import default_env_factory
from agentgym.rl.config import ConfigError, parse_config
from agentgym.rl.rubric import JudgeError, RubricJudge, parse_ranking, parse_rubric, parse_scores
from agentgym.rl.rubric_env import GroupGate, RubricRewardEnv
from agentgym.rollout.policy import PolicyStep
from agentgym.toolenv import ToolEnv, tool

RUBRIC = [{"name": "correct", "description": "the answer is right", "weight": 3},
          {"name": "polite", "description": "says please", "weight": 1}]
CRITERIA = parse_rubric(RUBRIC)


class FakeJudge:
    """A deterministic judge policy: replies with `reply(prompt)`, records calls and the most calls in flight."""

    def __init__(self, reply) -> None:
        self.reply, self.calls, self.in_flight, self.max_in_flight = reply, [], 0, 0

    async def act(self, messages, tools) -> PolicyStep:
        self.calls.append(messages[-1].content)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return PolicyStep(action=Action(text=self.reply(messages[-1].content)))


class AnswerEnv(ToolEnv):
    name = "answer_env"

    @tool("Submit the answer.", answer={"type": "string"})
    async def submit(self, answer: str) -> Verdict:
        ok = answer == self.task.data["answer"]
        return Verdict(reward=float(ok), passed=ok, components={"verifier": float(ok)})


def task(i: int = 0, rubric=RUBRIC) -> Task:
    return Task(id=f"t{i}", env="answer_env", prompt="Say 42.", data={"answer": "42", "rubric": rubric})


def trajectory(text: str) -> Trajectory:
    return Trajectory(task_id="t0", env="answer_env", messages=[Message(role="assistant", content=text)])


async def play(env, t: Task, answer: str):
    await env.reset(t, seed=0)
    return await env.step(Action(text=answer, tool_calls=[ToolCall(id="c", name="submit",
                                                                    arguments={"answer": answer})]))


def test_scores_are_weighted_and_fenced_json_is_read():
    assert parse_scores('{"scores": {"correct": 1, "polite": 0}}', CRITERIA) == 0.75
    assert parse_scores('Here:\n```json\n{"scores": {"correct": 0.5, "polite": 1.0}}\n```', CRITERIA) == 0.625


@pytest.mark.parametrize(("reply", "message"), [
    ("the agent did well, 9/10", "judge reply holds no JSON object"),
    ('{"score": 1}', "judge reply has no 'scores' object"),
    ('{"scores": {"correct": 1}}', "judge gave no number for criterion 'polite' (got None)"),
    ('{"scores": {"correct": 7, "polite": 1}}', "judge score 7 for criterion 'correct' is outside [0, 1]"),
    ('{"scores": {"correct": true, "polite": 1}}', "judge gave no number for criterion 'correct' (got True)"),
])
def test_malformed_judge_output_is_a_labelled_error(reply, message):
    with pytest.raises(JudgeError, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        parse_scores(reply, CRITERIA)


def test_rankings_and_rubrics_are_validated():
    assert parse_ranking('{"ranking": [2, 0, 1]}', 3) == [0.5, 0.0, 1.0]
    with pytest.raises(JudgeError, match="every index 0..2 once"):
        parse_ranking('{"ranking": [0, 0, 1]}', 3)
    with pytest.raises(ValueError, match="weight must be a positive number"):
        parse_rubric([{"name": "a", "weight": 0}])
    with pytest.raises(ValueError, match="non-empty list of criteria"):
        parse_rubric([])


def test_judge_caches_by_rubric_and_trajectory_and_batches_calls():
    judge_policy = FakeJudge(lambda prompt: '{"scores": {"correct": 1, "polite": 0.5}}'
                             if "AGENT: good" in prompt else "no idea")
    judge = RubricJudge(judge_policy, max_concurrency=2)
    items = [(task(), trajectory("good")), (task(), trajectory("good")), (task(), trajectory("bad"))] + \
        [(task(), trajectory(f"good {i}")) for i in range(4)]
    results = asyncio.run(judge.score_many(items))
    assert results[0] == results[1] == 0.875 and isinstance(results[2], JudgeError)
    assert results[3:] == [0.875] * 4
    assert judge_policy.max_in_flight == 2  # bounded concurrency: a batching policy serves these together
    num_calls = len(judge_policy.calls)
    asyncio.run(judge.score(task(), trajectory("good")))  # cached
    assert len(judge_policy.calls) == num_calls
    other = task(rubric=[{"name": "correct", "weight": 1}])  # another rubric: another cache entry
    judge_policy.reply = lambda prompt: '{"scores": {"correct": 0.2}}'
    assert asyncio.run(judge.score(other, trajectory("good"))) == 0.2


def test_env_mix_blends_verifier_and_rubric_and_labels_judge_errors():
    judge = RubricJudge(FakeJudge(lambda p: '{"scores": {"correct": 1, "polite": 0.6}}'))
    env = RubricRewardEnv(AnswerEnv(), judge, verifier_weight=0.5, rubric_weight=0.5)
    result = asyncio.run(play(env, task(), "42"))
    assert result.reward == pytest.approx(0.5 + 0.5 * 0.9)
    assert result.verdict.components["rubric"] == pytest.approx(0.45) and result.verdict.components["verifier"] == 0.5
    broken = RubricRewardEnv(AnswerEnv(), RubricJudge(FakeJudge(lambda p: "great job")), verifier_weight=0.5,
                             rubric_weight=0.5)
    result = asyncio.run(play(broken, task(), "42"))
    assert result.reward == 0.5 and result.verdict.components["judge_error"] == 1.0
    assert result.info["judge_error"].startswith("judge reply holds no JSON object")
    assert any(r.startswith("judge_error: ") for r in result.verdict.reasons)
    plain = asyncio.run(play(RubricRewardEnv(AnswerEnv(), judge, verifier_weight=0.5, rubric_weight=0.5),
                             task(rubric=None), "42"))
    assert plain.reward == 1.0  # a task without a rubric keeps its verifier reward


def test_group_mode_ranks_a_group_in_one_judge_call():
    def rank(prompt: str) -> str:
        body = prompt.split("\n\nRank the")[0]
        order = sorted(range(3), key=lambda i: -body.split(f"TRAJECTORY {i}:")[1].split("TRAJECTORY")[0].count("42"))
        return '{"ranking": %s}' % order

    policy = FakeJudge(rank)
    judge = RubricJudge(policy)
    gate = GroupGate(judge, group_size=3, wait_s=5.0)
    envs = [RubricRewardEnv(AnswerEnv(), judge, verifier_weight=0.0, rubric_weight=1.0, gate=gate) for _ in range(3)]

    async def group():
        return await asyncio.gather(*(play(e, task(), a) for e, a in zip(envs, ["42", "42 " * 20, "4"])))

    results = asyncio.run(group())
    assert [r.reward for r in results] == [0.5, 1.0, 0.0]
    assert len(policy.calls) == 1


def test_train_config_reward_mix_defaults_to_the_verifier_and_wires_a_judge():
    config = parse_config({"envs": [{"name": "arith"}]})
    assert config.envs[0].reward.verifier == 1.0 and not config.envs[0].reward.uses_rubric
    assert not isinstance(default_env_factory(config)("arith"), RubricRewardEnv)
    with pytest.raises(ConfigError, match="needs reward.judge"):
        parse_config({"envs": [{"name": "arith", "reward": {"rubric": 0.5}}]})
    with FakeOpenAIServer(lambda body: chat_response('{"scores": {"correct": 1, "polite": 1}}')) as server:
        config = parse_config({"envs": [{"name": "arith", "reward": {"verifier": 0.2, "rubric": 0.8,
                                                                       "judge": f"openai:judge@{server.base_url}"}}]})
        env = default_env_factory(config)("arith")
        assert isinstance(env, RubricRewardEnv) and env.rubric_weight == 0.8
        score = asyncio.run(env.judge.score(task(), trajectory("42")))
    assert score == 1.0 and len(server.requests) == 1


@pytest.mark.slow
def test_engine_judge_plumbing():
    from agentgym.rollout.specs import make_policy

    judge = RubricJudge(make_policy("engine:smollm2-135m"))
    [result] = asyncio.run(judge.score_many([(task(), trajectory("The answer is 42, please."))]))
    assert isinstance(result, JudgeError) or 0.0 <= result <= 1.0


def test_general_synthesis_emits_rubric_tasks_behind_a_flag(tmp_path):
    from agentgym.synth.general import Pipeline, PipelineConfig
    from agentgym.synth.general.procedural import ProceduralGenerator

    from agentgym.taskio import load_tasks

    config = PipelineConfig(categories=("library",), num_tasks=2, max_level=1, rubric=True)
    asyncio.run(Pipeline(ProceduralGenerator(), tmp_path, config).run())
    tasks = load_tasks(tmp_path / "tasks.jsonl")
    assert len(tasks) == 2
    for t in tasks:
        criteria = parse_rubric(t.data["rubric"])
        assert [c.name for c in criteria] == ["correct_answer", "grounded", "efficient"]
        assert json.dumps(t.data["reference"]["answer"], ensure_ascii=False)[:50] in criteria[0].description
