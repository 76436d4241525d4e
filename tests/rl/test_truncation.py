"""Reward handling of truncated trajectories: keep, zero or drop (and drop a group left too small), with counts."""

from __future__ import annotations

import pytest

from agentgym.api import Action, Message, Observation, StepResult, Task, Trajectory, Verdict
from agentgym.rl.collector import RolloutCollector
from agentgym.rl.config import parse_config
from agentgym.rl.limits_config import build_limits
from agentgym.rl.sampler import EnvPool, MixedTaskSampler
from agentgym.model.char_tokenizer import CharTokenizer
from agentgym.rl.truncation import handle_truncated
from agentgym.rollout import ScriptedPolicy


def traj(truncated: bool) -> Trajectory:
    return Trajectory(task_id="t", env="e", truncated=truncated, truncation_reason="cut" if truncated else None)


GROUP = [traj(False), traj(True), traj(False), traj(True)]
REWARDS = [1.0, 0.5, 0.0, 0.75]


def test_keep_leaves_rewards_as_they_are():
    out = handle_truncated(GROUP, REWARDS, on_truncated="keep")
    assert out.rewards == REWARDS and out.trajectories == GROUP
    assert (out.num_truncated, out.num_dropped, out.is_group_dropped) == (2, 0, False)


def test_zero_sets_truncated_rewards_to_zero_and_says_so():
    out = handle_truncated([traj(False), traj(True)], [1.0, 0.5], on_truncated="zero")
    assert out.rewards == [1.0, 0.0] and (out.num_truncated, out.num_dropped) == (1, 0)
    assert out.trajectories[1].info["truncation_handling"] == "reward set to 0 (on_truncated=zero)"
    assert "truncation_handling" not in out.trajectories[0].info


def test_drop_removes_truncated_trajectories():
    out = handle_truncated(GROUP, REWARDS, on_truncated="drop")
    assert out.rewards == [1.0, 0.0] and out.trajectories == [GROUP[0], GROUP[2]]
    assert (out.num_truncated, out.num_dropped, out.is_group_dropped) == (2, 2, False)


def test_drop_removes_the_group_when_too_few_remain():
    out = handle_truncated(GROUP, REWARDS, on_truncated="drop", min_group_size=3)
    assert out.is_group_dropped and out.trajectories == [] and out.rewards == []
    assert (out.num_truncated, out.num_dropped) == (2, 2)


def test_bad_mode_is_an_error():
    with pytest.raises(ValueError, match="on_truncated must be"):
        handle_truncated(GROUP, REWARDS, on_truncated="clip")


class HalfEnv:
    """Even env seeds: the first step ends the episode (reward 1). Odd seeds: each step pays 0.25 and nothing ends,
    so the loop's turn budget (2) truncates the episode with reward 0.5."""

    name = "half"

    def tools(self):
        return []

    async def reset(self, task, *, seed=None):
        self.is_even = seed % 2 == 0
        return Observation(messages=[Message(role="user", content=task.prompt)])

    async def step(self, action):
        if self.is_even:
            return StepResult(observation=Observation(), reward=1.0, terminated=True,
                              verdict=Verdict(reward=1.0, passed=True))
        return StepResult(observation=Observation(messages=[Message(role="user", content="again")]), reward=0.25)

    async def close(self):
        pass


def collect(on_truncated: str, *, min_group_size: int = 2, group_size: int = 4):
    tasks = [Task(id=f"t{i}", env="half", prompt="go") for i in range(4)]
    sampler = MixedTaskSampler([EnvPool(name="half", weight=1.0, tasks=tasks)], seed=0)
    collector = RolloutCollector(sampler, lambda name: HalfEnv(), ScriptedPolicy(lambda m, t: Action(text="x")),
                                 lambda t: t.reward, group_size=group_size, max_turns=2, dynamic_filtering=False,
                                 group_seed="varied", on_truncated=on_truncated, min_group_size=min_group_size)
    return collector.collect(2, seed=0)


@pytest.mark.parametrize(("mode", "truncated_reward"), [("keep", 0.5), ("zero", 0.0), ("drop", None)])
def test_collector_applies_the_mode_and_counts(mode, truncated_reward):
    out = collect(mode)
    for g in out.groups:  # varied seeds: two even (finished, 1.0) and two odd (truncated) per group
        expected = [1.0 if t.seed % 2 == 0 else truncated_reward for t in g.trajectories]
        assert g.rewards == expected and sorted(t.seed % 2 for t in g.trajectories) == ([0, 0] if mode == "drop"
                                                                                        else [0, 0, 1, 1])
    assert out.num_truncated == 4 and sorted(out.all_rewards) == [0.5] * 4 + [1.0] * 4  # the metric sees every episode
    assert out.num_dropped_truncated == (4 if mode == "drop" else 0) and out.num_groups_dropped_truncated == 0
    kept = [t for g in out.groups for t in g.trajectories]
    assert all(t.truncation_reason == "agent loop turn budget of 2 reached" for t in kept if t.truncated)


def test_collector_drops_groups_left_too_small():
    out = collect("drop", min_group_size=3)
    assert out.groups == [] and out.num_groups_dropped_truncated == 2 and out.num_dropped_truncated == 4


def test_train_config_sections_build_the_rollout_limits():
    config = parse_config({"envs": [{"name": "echo"}], "model": {"max_seq_len": 96},
                           "context": {"enabled": True, "strategy": "discard-75%"},
                           "truncation": {"max_episode_tokens": 300, "on_truncated": "drop"}})
    context, budget = build_limits(config.context, config.truncation, tokenizer=CharTokenizer(), max_seq_len=96)
    assert context.strategy == "discard-75%" and context.window_tokens == 96 and context.threshold == 0.8
    assert context.token_counter([Message(role="user", content="ab")], []) == 8
    assert budget.max_episode_tokens == 300 and not budget.stop_on_turn_cut
    assert build_limits(parse_config({"envs": [{"name": "echo"}]}).context,
                        parse_config({"envs": [{"name": "echo"}]}).truncation, tokenizer=None,
                        max_seq_len=96) == (None, None)
    with pytest.raises(ValueError, match="truncation.on_truncated"):
        parse_config({"envs": [{"name": "echo"}], "truncation": {"on_truncated": "clip"}})


@pytest.mark.slow
def test_trainer_step_drops_truncated_episodes_and_reports_them(make_toy_config, tmp_path):
    from agentgym.envs.echo_letter import EchoLetterEnv
    from agentgym.rl.trainer import GRPOTrainer

    config = make_toy_config(str(tmp_path), steps=1, groups_per_step=2, group_size=4,
                             techniques={"dynamic_filtering": False},
                             context={"enabled": True, "strategy": "discard-all"},
                             truncation={"stop_on_turn_cut": True, "on_truncated": "drop", "min_group_size": 1})
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    collected = []
    collect = trainer.collector.collect
    trainer.collector.collect = lambda n, *, seed: collected.append(collect(n, seed=seed)) or collected[-1]
    metrics = trainer.step(0)
    [collection] = collected
    kept = [t for g in collection.groups for t in g.trajectories]
    assert metrics["num_truncated"] == metrics["num_dropped_truncated"] > 0  # most 2-token replies are cut
    assert metrics["num_episodes"] == 8 == len(kept) + metrics["num_dropped_truncated"]
    assert metrics["num_segments"] == len(kept) > 0  # groups of different sizes still train
    assert not any(t.truncated for t in kept) and all("context" in t.info for t in kept)
    assert {len(g.trajectories) for g in collection.groups} != {4}
