"""The RL math as pure functions, each against its formula written out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from agentgym.api import Task
from agentgym.rl.advantages import group_advantages
from agentgym.rl.filtering import has_reward_variance, keep_informative
from agentgym.rl.rewards import language_consistency, length_penalty, shaped_reward
from agentgym.rl.sampler import EnvPool, MixedTaskSampler
from agentgym.rl.schedule import lr_at


def test_group_advantages_mean_baseline_and_std():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0]])
    assert group_advantages(rewards).tolist() == [[0.5, -0.5, -0.5, 0.5], [0.25, 0.25, 0.25, -0.75]]
    std = group_advantages(rewards, normalize_std=True, eps=0.0)
    s2 = math.sqrt(0.75 * 0.25)  # population std of [1, 1, 1, 0]
    assert std[0].tolist() == pytest.approx([1, -1, -1, 1])
    assert std[1].tolist() == pytest.approx([0.25 / s2] * 3 + [-0.75 / s2])
    with pytest.raises(ValueError, match="num_groups, group_size"):
        group_advantages(torch.zeros(4))


def test_dynamic_filtering_drops_flat_groups():
    assert not has_reward_variance([1.0, 1.0, 1.0]) and has_reward_variance([0.0, 1.0]) and not has_reward_variance([1])
    kept, dropped = keep_informative(["a", "b", "c"], [[0, 0], [0, 1], [1, 1]])
    assert kept == ["b"] and dropped == 2


def test_length_penalty_dapo_overlong():
    kw = {"max_tokens": 100, "buffer": 20}
    assert [length_penalty(n, **kw) for n in (80, 90, 100, 130)] == [0.0, -0.5, -1.0, -1.0]
    with pytest.raises(ValueError):
        length_penalty(10, max_tokens=10, buffer=0)


def test_language_consistency_share_of_letters_in_script():
    assert language_consistency("the answer is 42") == 1.0
    assert language_consistency("the 答案 is") == pytest.approx(5 / 7)
    assert language_consistency("答案", "zh") == 1.0
    assert language_consistency("1 + 2 = 3") == 1.0
    with pytest.raises(ValueError, match="unknown language"):
        language_consistency("x", "klingon")


def test_shaped_reward_sums_components():
    total, parts = shaped_reward(1.0, completion_tokens=90, text="ok 答", max_tokens=100, buffer=20, language="en",
                                 language_weight=0.3)
    assert parts == {"env": 1.0, "length_penalty": -0.5, "language": pytest.approx(0.3 * 2 / 3)}
    assert total == pytest.approx(1.0 - 0.5 + 0.2)


def test_lr_schedule():
    kw = {"base_lr": 1.0, "total_steps": 10, "warmup_steps": 2}
    assert [lr_at(s, **kw) for s in (0, 1, 2)] == [0.5, 1.0, 1.0]
    assert lr_at(6, schedule="cosine", **kw) == pytest.approx(0.5)
    assert lr_at(6, schedule="linear", **kw) == pytest.approx(0.5)
    assert lr_at(10, schedule="cosine", min_lr_ratio=0.1, **kw) == pytest.approx(0.1)


def _tasks(env: str, n: int) -> list[Task]:
    return [Task(id=f"{env}-{i}", env=env, prompt=str(i)) for i in range(n)]


def test_sampler_weights_determinism_and_state():
    pools = [EnvPool(name="a", weight=3.0, tasks=_tasks("a", 5)), EnvPool(name="b", weight=1.0, tasks=_tasks("b", 5))]
    draws = MixedTaskSampler(pools, seed=1).sample(4000)
    share = sum(1 for name, _ in draws if name == "a") / len(draws)
    assert 0.72 < share < 0.78  # 3 / 4
    s1 = MixedTaskSampler(pools, seed=1)
    s1.sample(7)
    state = s1.state_dict()
    s2 = MixedTaskSampler(pools, seed=99)
    s2.load_state_dict(state)
    assert [t.id for _, t in s1.sample(20)] == [t.id for _, t in s2.sample(20)]
    with pytest.raises(ValueError, match="weight"):
        EnvPool(name="c", weight=0.0, tasks=_tasks("c", 1))


def test_format_score():
    from agentgym.rl.rewards import format_score

    call = '<tool_call>{"name": "submit", "arguments": {"answer": 3}}</tool_call>'
    assert format_score(call) == 1.0 and format_score(call, frozenset({"submit"})) == 1.0
    assert format_score(call, frozenset({"calculator"})) == 0.0
    assert format_score("so it is \\boxed{the}") == 1.0
    assert format_score("the answer is 3") == 0.0 and format_score('<tool_call>{"name": ') == 0.0
