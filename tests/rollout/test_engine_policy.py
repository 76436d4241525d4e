"""EnginePolicy: concurrent acts share one generate call, and every Turn carries what the trainer replays."""

from __future__ import annotations

import asyncio
import json

import pytest
import torch
from agentgym.model import Engine, EngineConfig, Transformer, get_preset

from agentgym.api import Message, Observation, StepResult, Task, Trajectory
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.model.char_tokenizer import CharTokenizer
from agentgym.rollout import RolloutConfig, run_episodes
from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig


class TwoTurnEnv:
    """Turn 1 gets a tool-like observation back; turn 2 ends the episode."""

    name = "two"

    def tools(self):
        return []

    async def reset(self, task, *, seed=None):
        self.turn = 0
        return Observation(messages=[Message(role="user", content=task.prompt)])

    async def step(self, action):
        self.turn += 1
        if self.turn == 1:
            return StepResult(observation=Observation(messages=[Message(role="tool", content="hh")]))
        return StepResult(observation=Observation(), reward=1.0, terminated=True)

    async def close(self):
        pass


class SpyEngine(Engine):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def generate(self, prompts, params=None):
        self.calls.append([list(p) for p in prompts])
        return super().generate(prompts, params)


@pytest.fixture(scope="module")
def engine():
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny").replace(vocab_size=16))
    return SpyEngine(model, CharTokenizer(), EngineConfig(max_batch_size=16, max_seq_len=64))


def test_concurrent_acts_are_one_batched_generate_and_turns_are_complete(engine):
    engine.calls.clear()
    policy = EnginePolicy(engine, EnginePolicyConfig(max_new_tokens=3, top_k=5, seed=1), policy_version=7)
    tasks = EchoLetterEnv().sample_tasks(4, seed=0)
    trajectories = asyncio.run(run_episodes(EchoLetterEnv, policy, tasks,
                                            RolloutConfig(num_samples=2, max_turns=1, progress=False)))
    assert len(engine.calls) == 1 and len(engine.calls[0]) == 4  # 8 requests: 4 prompts sampled twice
    for t in trajectories:
        [turn] = t.turns
        assert turn.prompt_ids[0] == engine.tokenizer.bos_id
        assert len(turn.logprobs) == len(turn.completion_ids) == len(turn.loss_mask) > 0
        assert all(lp <= 0 for lp in turn.logprobs)
        assert turn.policy_version == 7
        offsets = turn.sampling_mask["offsets"]
        assert len(offsets) == len(turn.completion_ids) + 1 and offsets[-1] <= 5 * len(turn.completion_ids)
        experts = torch.tensor(turn.routed_experts)
        assert experts.shape == (len(turn.prompt_ids) + len(turn.completion_ids) - 1, 1, 2)
        assert Trajectory.model_validate_json(t.model_dump_json()).turns[0] == turn  # JSON round trip


def test_second_turn_records_only_new_tokens_and_the_concatenation_is_what_the_model_saw(engine):
    engine.calls.clear()
    policy = EnginePolicy(engine, EnginePolicyConfig(max_new_tokens=3, seed=2))
    task = Task(id="t", env="two", prompt="ab")
    [trajectory] = asyncio.run(run_episodes(TwoTurnEnv, policy, [task],
                                            RolloutConfig(num_samples=1, max_turns=2, progress=False)))
    first, second = trajectory.turns
    assert second.prompt_ids[0] != engine.tokenizer.bos_id
    fed_second = engine.calls[1][0]
    assert fed_second == first.prompt_ids + first.completion_ids + second.prompt_ids
    tokenizer = engine.tokenizer
    assert tokenizer.decode(second.prompt_ids).endswith("\n<|im_start|>thh<|im_end|>\n<|im_start|>a")


def test_policy_rejects_engine_without_tokenizer():
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="tokenizer"):
        EnginePolicy(Engine(Transformer(get_preset("tiny")), None, EngineConfig(max_seq_len=32)))


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="max_batch"):
        EnginePolicyConfig(max_batch=0)
    assert json.dumps(EnginePolicyConfig().max_wait_s)


def test_identical_prompts_share_one_prefill(engine):
    engine.calls.clear()
    policy = EnginePolicy(engine, EnginePolicyConfig(max_new_tokens=2, seed=1))
    tasks = EchoLetterEnv().sample_tasks(3, seed=5)
    trajectories = asyncio.run(run_episodes(EchoLetterEnv, policy, tasks,
                                            RolloutConfig(num_samples=4, max_turns=1, progress=False)))
    assert len(engine.calls) == 1 and len(engine.calls[0]) == 3  # 12 requests, 3 prefills sampled 4 times each
    for task, group in zip(tasks, [trajectories[i:i + 4] for i in range(0, 12, 4)]):
        assert all(t.task_id == task.id and t.turns[0].prompt_ids == group[0].turns[0].prompt_ids for t in group)
    assert len({tuple(t.turns[0].completion_ids + [i]) for i, t in enumerate(trajectories)}) == 12
