"""`DatasetEnv`: reasoning-gym style question/answer/score datasets as single-turn agentgym envs."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

import agentgym
from agentgym.api import Action, ToolCall
from agentgym.checker import check_env
from agentgym.interop import DatasetEnv, dataset_env_factory
from agentgym.taskio import load_tasks, save_tasks


class GCDDataset:
    """A tiny ProceduralDataset: item i is seeded by (seed + i); near misses (off by one) score 0.5."""

    def __init__(self, *, seed: int = 0, size: int = 50) -> None:
        self.seed, self.size = seed, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, idx: int) -> dict:
        rng = random.Random(self.seed + idx)
        a, b = rng.randint(2, 500), rng.randint(2, 500)
        return {"question": f"What is gcd({a}, {b})?", "answer": str(math.gcd(a, b)), "metadata": {"a": a, "b": b}}

    def score_answer(self, answer: str | None, entry: dict) -> float:
        if answer is None:
            return 0.0
        if answer.strip() == entry["answer"]:
            return 1.0
        try:
            return 0.5 if abs(int(answer) - int(entry["answer"])) == 1 else 0.0
        except ValueError:
            return 0.0


def submit(answer: str) -> Action:
    return Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": answer})])


def play(env: DatasetEnv, task, action: Action):
    async def run():
        await env.reset(task, seed=0)
        return await env.step(action)

    return asyncio.run(run())


def test_a_procedural_dataset_env_passes_check_env():
    results = check_env(lambda: DatasetEnv(GCDDataset(seed=3), name="gcd"))
    assert all(r.passed for r in results) and "reference solution passes 4 tasks" in [r.detail for r in results]


def test_the_dataset_scorer_is_the_reward_and_the_entry_rides_in_the_task():
    env = DatasetEnv(GCDDataset(seed=3), name="gcd")
    task = env.sample_tasks(1, seed=0)[0]
    entry = GCDDataset(seed=3)[task.data["index"]]
    assert task.prompt == entry["question"] and task.data["metadata"] == entry["metadata"]
    assert task.id == f"gcd-{task.data['index']}" and task.env == "gcd"
    right = play(env, task, submit(entry["answer"]))
    assert (right.reward, right.verdict.passed, right.terminated) == (1.0, True, True)
    near = play(env, task, submit(str(int(entry["answer"]) + 1)))
    assert (near.reward, near.verdict.passed) == (0.5, False)
    assert near.verdict.reasons == [f"score_answer('{int(entry['answer']) + 1}') = 0.5 against oracle "
                                    f"'{entry['answer']}' (< 1)"]


def test_one_answer_ends_the_episode_and_malformed_calls_get_one_retry():
    env = DatasetEnv(GCDDataset(), name="gcd")
    task = env.sample_tasks(1)[0]

    async def run():
        await env.reset(task, seed=0)
        first = await env.step(Action(text="the answer is 7"))
        second = await env.step(Action(text="still no tool call"))
        return first, second

    first, second = asyncio.run(run())
    assert (first.truncated, first.error, second.truncated, second.verdict) == (False, "model_error", True, None)
    assert play(env, task, submit("0")).terminated


def test_sample_tasks_is_seeded_and_covers_the_dataset_before_repeating():
    env = DatasetEnv(GCDDataset(size=5), name="gcd")
    assert env.sample_tasks(8, seed=1) == env.sample_tasks(8, seed=1)
    assert env.sample_tasks(5, seed=1) != env.sample_tasks(5, seed=2)
    assert sorted(t.data["index"] for t in env.sample_tasks(5, seed=9)) == [0, 1, 2, 3, 4]


def test_a_list_of_dicts_with_a_score_function_is_an_env(tmp_path):
    entries = [{"question": "Capital of France?", "answer": "Paris"}, {"question": "2+2?", "answer": "4"}]
    def lenient(answer, entry):
        return float(str(answer).strip().lower() == entry["answer"].lower())

    results = check_env(lambda: DatasetEnv(entries, name="qa", score=lenient))
    assert all(r.passed for r in results)
    # tasks saved to JSONL are scored the same way by a fresh env
    save_tasks(tmp_path / "qa.jsonl", DatasetEnv(entries, name="qa").sample_tasks(2))
    task = next(t for t in load_tasks(tmp_path / "qa.jsonl") if t.data["answer"] == "Paris")
    assert play(DatasetEnv(entries, name="qa", score=lenient), task, submit(" paris ")).reward == 1.0
    assert play(DatasetEnv(entries, name="qa"), task, submit(" paris ")).reward == 0.0  # default: exact


def test_registered_as_a_plugin_make_passes_dataset_and_env_config():
    agentgym.register("gcd-interop-test", dataset_env_factory(GCDDataset, name="gcd"))
    try:
        env = agentgym.make("gcd-interop-test", seed=7, size=3, max_turns=2)
        assert (env.dataset.seed, len(env.dataset), env.max_turns, env.name) == (7, 3, 2, "gcd")
    finally:
        agentgym.registry.default.unregister("gcd-interop-test")


def test_a_crashing_scorer_is_an_env_error_not_the_agents_fault():
    class Broken(GCDDataset):
        def score_answer(self, answer, entry):
            raise KeyError("oracle")

    env = DatasetEnv(Broken(), name="gcd")
    result = play(env, env.sample_tasks(1)[0], submit("3"))
    assert result.error == "env_error" and result.verdict is None
    assert "dataset.score_answer failed: KeyError: 'oracle'" in result.observation.messages[0].content


def test_bad_datasets_are_rejected_with_a_clear_message():
    with pytest.raises(TypeError, match=r"^dataset must have score_answer\(\) \(a reasoning-gym style "
                                        r"ProceduralDataset\), got dict$"):
        DatasetEnv({"question": "x"})
    with pytest.raises(ValueError, match="entry 1 must be a dict with 'question' and 'answer'"):
        DatasetEnv([{"question": "a", "answer": "b"}, {"q": 1}])
