"""Token budgets on the tiny model: a cut reply is flagged, a cut trajectory is truncated with a reason naming the
budget and the numbers, and a full model window is a truncation (never an env failure, never silently clipped)."""

from __future__ import annotations

import asyncio

import pytest
import torch
from agentgym.model import Engine, EngineConfig, Transformer, get_preset

from agentgym.api import Message, Observation, StepResult, Task
from agentgym.model.char_tokenizer import CharTokenizer
from agentgym.rollout import BudgetConfig, PolicyStep, run_episode
from agentgym.rollout.budget import TokenLedger
from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig

TASK = Task(id="t", env="tools", prompt="ab")


class ToolEnv:
    """Every step returns the tool result `hh`; never ends by itself."""

    name = "tools"

    def tools(self):
        return []

    async def reset(self, task, *, seed=None):
        self.num_steps = 0
        return Observation(messages=[Message(role="user", content=task.prompt)])

    async def step(self, action):
        self.num_steps += 1
        return StepResult(observation=Observation(messages=[Message(role="tool", content="hh")]))

    async def close(self):
        pass


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return Transformer(get_preset("tiny").replace(vocab_size=16))


def play(model, *, window=64, max_new_tokens=4, budget=None, max_turns=3):
    engine = Engine(model, CharTokenizer(), EngineConfig(max_batch_size=2, max_seq_len=window))
    policy = EnginePolicy(engine, EnginePolicyConfig(max_new_tokens=max_new_tokens, ignore_eos=True, seed=1))
    env = ToolEnv()
    traj = asyncio.run(run_episode(env, policy, TASK, max_turns=max_turns, budget=budget))
    return traj, env


def test_a_reply_cut_by_the_per_turn_budget_is_flagged_and_passed_on(model):
    traj, env = play(model, max_turns=2)
    assert [t.finish_reason for t in traj.turns] == ["length", "length"]
    assert [len(t.completion_ids) for t in traj.turns] == [4, 4]
    assert env.num_steps == 2 and traj.truncation_reason == "agent loop turn budget of 2 reached"
    assert traj.info["tokens"]["num_turns_cut"] == 2


def test_stop_on_turn_cut_truncates_without_executing_the_reply(model):
    traj, env = play(model, budget=BudgetConfig(stop_on_turn_cut=True))
    assert traj.truncated and env.num_steps == 0 and len(traj.turns) == 1
    assert traj.truncation_reason == "turn 1 reply hit the per-turn budget (max_new_tokens) after 4 tokens"


def test_per_trajectory_budget_truncates_after_the_turn_that_passes_it(model):
    traj, env = play(model, budget=BudgetConfig(max_episode_tokens=20), max_turns=10)
    first, second = traj.turns  # turn 1: 8 prompt + 4 sampled; turn 2: 10 new prompt tokens + 4 sampled = 26
    assert len(first.prompt_ids) + len(first.completion_ids) == 12
    assert len(second.prompt_ids) + len(second.completion_ids) == 14
    assert traj.truncated and env.num_steps == 1  # the second reply is recorded but not executed
    assert traj.truncation_reason == ("per-trajectory budget of 20 tokens exceeded: 26 tokens used "
                                      "(prompt + completions + observations) after turn 2")
    assert traj.info["tokens"]["num_episode_tokens"] == 26


def test_a_prompt_that_does_not_fit_the_window_is_a_truncation_not_an_env_error(model):
    traj, env = play(model, window=30, max_turns=5)
    # turn 1 uses 12 positions; turn 2 needs 12 + 10 + 4 = 26 < 30; turn 3's prompt alone would be 36
    assert len(traj.turns) == 2 and env.num_steps == 2
    assert traj.truncated and traj.error != "env_error"
    assert traj.truncation_reason == ("context window full: prompt of 36 tokens does not fit the context window "
                                      "of 30 tokens")


def test_a_reply_cut_by_the_window_is_a_truncation(model):
    traj, env = play(model, window=10, max_turns=3)
    [turn] = traj.turns
    # 10 cache positions: 8 prompt tokens + 2 fed back; the 3rd sampled token needs no position
    assert turn.finish_reason == "window" and len(turn.completion_ids) == 3  # < max_new_tokens (4)
    assert traj.truncated and env.num_steps == 0
    assert traj.truncation_reason == "turn 1 reply was cut after 3 tokens: the model's context window is full"


def test_ledger_counts_reported_tokens_of_policies_without_token_records():
    ledger = TokenLedger()
    assert ledger.add(PolicyStep.model_validate({"action": {}, "num_prompt_tokens": 10,
                                                 "num_completion_tokens": 5})) == 15
    assert ledger.add(PolicyStep.model_validate({"action": {}, "num_prompt_tokens": 20,
                                                 "num_completion_tokens": 5})) == 25  # +10 grown
    ledger.rewritten()
    assert ledger.add(PolicyStep.model_validate({"action": {}, "num_prompt_tokens": 12,
                                                 "num_completion_tokens": 3})) == 40  # all 15 count again


def test_budget_config_names_the_field():
    with pytest.raises(ValueError, match="max_episode_tokens"):
        BudgetConfig(max_episode_tokens=0)
