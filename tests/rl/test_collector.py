"""DAPO dynamic filtering: flat groups are dropped and the batch is refilled from new draws."""

from __future__ import annotations

from agentgym.api import Action
from agentgym.rl.collector import RolloutCollector
from agentgym.rl.sampler import EnvPool, MixedTaskSampler
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.rollout import ScriptedPolicy


def _policy():
    """Always right on 'a' tasks (a flat group), alternately right and wrong on the others."""
    count = {"n": 0}

    def act(messages, tools):
        letter = messages[-1].content
        count["n"] += 1
        return Action(text=letter if letter == "a" or count["n"] % 2 else "z")

    return ScriptedPolicy(act)


def _collector(filtering: bool) -> RolloutCollector:
    tasks = EchoLetterEnv(letters="ab").sample_tasks(16, seed=0)
    sampler = MixedTaskSampler([EnvPool(name="echo", weight=1.0, tasks=tasks)], seed=0)
    return RolloutCollector(sampler, lambda name: EchoLetterEnv(), _policy(), lambda t: t.reward, group_size=4,
                            max_turns=1, dynamic_filtering=filtering, max_refill_rounds=6)


def test_flat_groups_are_dropped_and_refilled():
    out = _collector(True).collect(6, seed=0)
    assert len(out.groups) == 6
    assert all(len(set(g.rewards)) > 1 for g in out.groups)
    assert out.num_filtered > 0 and out.num_rounds > 1
    assert all(g.task.data["answer"] == "b" for g in out.groups)
    assert out.num_episodes == 4 * (6 + out.num_filtered)


def test_without_filtering_flat_groups_stay():
    out = _collector(False).collect(6, seed=0)
    assert len(out.groups) == 6 and out.num_rounds == 1 and out.num_filtered == 0
    assert any(len(set(g.rewards)) == 1 for g in out.groups)
