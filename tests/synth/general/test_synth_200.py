"""Done-means for the general pipeline: 200+ offline tasks over 5 categories, all checks passed; the reference replay
scores 1.0 through the env, mutated answers score 0, and a budget-limited solver does worse at higher levels."""

from __future__ import annotations

import asyncio
import time

import pytest
from agentgym.envs.general import GeneralEnv
from agentgym.synth.general import Pipeline, PipelineConfig, ProceduralGenerator
from agentgym.synth.general.nonanswers import mutations, normalized

from agentgym.api import Action, Task, ToolCall
from agentgym.checker import mutate_value
from agentgym.rollout import RolloutConfig, ScriptedPolicy, run_episodes
from agentgym.taskio import load_tasks

pytestmark = pytest.mark.slow
NUM_TASKS = 200


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth200")
    generator = ProceduralGenerator()
    started = time.perf_counter()
    pipeline = Pipeline(generator, out, PipelineConfig(categories=tuple(generator.categories()), num_tasks=NUM_TASKS))
    funnel = asyncio.run(pipeline.run())
    print(f"\nsynthesized {len(pipeline.tasks)} tasks from {funnel.num_units} units in "
          f"{time.perf_counter() - started:.1f} s; funnel {funnel.tasks}")
    return out, load_tasks(out / "tasks.jsonl"), funnel


def test_200_tasks_over_5_categories_each_passing_every_check(synthesized):
    _, tasks, funnel = synthesized
    assert len(tasks) == NUM_TASKS == funnel.tasks["stored"]
    assert len({t.meta["category"] for t in tasks}) >= 5
    names = {"tools_only", "deterministic", "consistent", "rejects_non_answers", "no_shortcut"}
    for task in tasks:
        checks = {c["name"]: c["passed"] for c in task.meta["quality"]}
        assert set(checks) == names and all(checks.values()), (task.id, checks)
    assert len({t.id for t in tasks}) == len(tasks)
    stages = [funnel.tasks[s] for s in ("escalated", "checks_passed", "deduped", "stored")]
    assert stages == sorted(stages, reverse=True)


def replay_policy(tasks: list[Task]) -> ScriptedPolicy:
    """Plays each task's recorded reference calls, one per turn, then submits the reference answer."""
    by_prompt = {t.prompt: t for t in tasks}

    def act(messages, tools):
        user = next(m.content for m in messages if m.role == "user")
        task = by_prompt[user.split("\n\nWhen you are done")[0]]
        calls = task.data["reference"]["calls"]
        turn = sum(1 for m in messages if m.role == "assistant")
        if turn < len(calls):
            return Action(tool_calls=[ToolCall(id=f"t{turn}", name=calls[turn]["name"],
                                               arguments=calls[turn]["arguments"])])  # fmt: skip
        answer = task.data["reference"]["answer"]
        return Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": answer})])

    return ScriptedPolicy(act)


async def _play(tasks: list[Task], max_turns: int) -> list[float]:
    trajectories = await run_episodes(lambda: GeneralEnv(), replay_policy(tasks), tasks,
                                      RolloutConfig(max_turns=max_turns, concurrency=2, progress=False))
    assert all(t.error != "env_error" for t in trajectories), [t.info for t in trajectories if t.error == "env_error"]
    return [t.reward for t in trajectories]


async def test_replaying_each_reference_solution_through_the_env_scores_1(synthesized):
    _, tasks, _ = synthesized
    env = GeneralEnv()
    try:
        rewards = []
        for task in tasks:
            await env.reset(task, seed=0)
            for i, call in enumerate(task.data["reference"]["calls"]):  # one tool call per turn, as an agent would
                step = await env.step(Action(tool_calls=[ToolCall(id=f"c{i}", name=call["name"],
                                                                  arguments=call["arguments"])]))  # fmt: skip
                assert step.error is None, step.observation
            answer = task.data["reference"]["answer"]
            final = await env.step(Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": answer})]))
            rewards.append(final.reward)
    finally:
        await env.close()
    assert rewards == [1.0] * len(tasks)
    replayed = await _play(tasks, max_turns=32)  # and through the agent loop with a scripted policy
    assert replayed == [1.0] * len(tasks)


def _mutants(task: Task) -> list:
    answer = task.data["reference"]["answer"]
    out = [{k: mutate_value(v) if k == key else v for k, v in answer.items()} for key in answer]
    import random

    out += mutations(answer, task.data["answer_schema"], random.Random(0), ["none", "x"])
    right = normalized(answer)
    return [m for m in out if normalized(m) != right]


async def test_mutated_answers_score_0(synthesized):
    _, tasks, _ = synthesized
    env = GeneralEnv()
    num_tried = num_accepted = 0
    try:
        for task in tasks:
            calls = [ToolCall(id=f"c{i}", name=c["name"], arguments=c["arguments"])
                     for i, c in enumerate(task.data["reference"]["calls"])]
            for mutant in _mutants(task):
                await env.reset(task, seed=0)
                result = await env.step(Action(tool_calls=[*calls, ToolCall(id="s", name="submit",
                                                                            arguments={"answer": mutant})]))
                num_tried += 1
                num_accepted += int(result.reward > 0)
    finally:
        await env.close()
    rate = num_accepted / num_tried
    print(f"\nmutated answers: {num_accepted}/{num_tried} accepted, false-accept rate {rate:.2%}")
    assert num_tried >= 2 * len(tasks) and rate <= 0.01


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rho: the Pearson correlation of the (tie-averaged) ranks."""
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return cov / (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5


def test_spearman_matches_a_hand_computed_value():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / 22.5**0.5)  # ranks x: 1, 2.5, 2.5, 4


async def test_a_budget_limited_solver_succeeds_less_at_higher_levels(synthesized):
    _, tasks, _ = synthesized
    sample = [t for i, t in enumerate(tasks) if i % 2 == 0]
    levels, successes = [], []
    by_level: dict[int, list[float]] = {}
    for budget in (2, 4, 6):
        rewards = await _play(sample, max_turns=budget)  # the loop stops the replay after `budget` turns
        for task, reward in zip(sample, rewards):
            level = task.meta["difficulty"]["level"]
            levels.append(level)
            successes.append(reward)
            by_level.setdefault(level, []).append(reward)
    rho = spearman(levels, successes)
    rates = {level: round(sum(r) / len(r), 3) for level, r in sorted(by_level.items())}
    print(f"\nbudget-limited solver success by level {rates}; Spearman rho(level, success) = {rho:.3f}")
    assert rho < 0
    assert rates[0] > rates[max(rates)]
