"""`--policy engine:MODEL`: the embedded engine behind the same policy strings every command takes."""

from __future__ import annotations

import asyncio

import pytest

import agentgym
from agentgym.errors import PolicySpecError
from agentgym.rollout import run_episode
from agentgym.rollout.specs import make_policy


def test_engine_spec_for_a_model_without_weights_is_a_clear_error():
    with pytest.raises(PolicySpecError, match=r"^no pretrained weights for model 'tiny'; known: "):
        make_policy("engine:tiny")


@pytest.mark.slow
def test_engine_spec_plays_an_episode_and_records_tokens():
    policy = make_policy("engine:smollm2-135m")
    task = agentgym.make("arith").sample_tasks(1, seed=0)[0]
    trajectory = asyncio.run(run_episode(agentgym.make("arith"), policy, task, seed=0, max_turns=1))
    assert trajectory.error != "env_error", trajectory.info.get("failure")  # a one-turn episode may fail (model_error)
    turn = trajectory.turns[0]
    assert turn.prompt_ids and turn.completion_ids and len(turn.logprobs) == len(turn.completion_ids)
    assert trajectory.messages[2].role == "assistant"
