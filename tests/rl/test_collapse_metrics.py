"""Collapse is visible: per-step distinct replies, token entropy, tool-call rate and episode length in metrics.jsonl."""

from __future__ import annotations

import json

import pytest
import torch

from agentgym.api import Message, ToolCall, Trajectory
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.rl.rollout_stats import RolloutStats
from agentgym.rl.trainer import GRPOTrainer

METRICS = ("entropy", "distinct_first_replies", "distinct_transcripts", "tool_call_rate", "episode_turns")


def _episode(*replies: str, parsed: bool = False) -> Trajectory:
    messages = [Message(role="user", content="q")]
    for r in replies:
        calls = [ToolCall(name="f")] if parsed else []
        messages += [Message(role="assistant", content=r, tool_calls=calls), Message(role="tool", content="ok")]
    return Trajectory(task_id="t", env="e", messages=messages)


def test_rollout_stats_by_hand():
    call = '<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'
    stats = RolloutStats()
    stats.add_group([_episode("a", call), _episode("a", "b"), _episode("c"), _episode("", parsed=True)])
    stats.add_group([_episode("x"), _episode("x")])  # collapsed: one reply for the whole group
    m = stats.metrics()
    assert m["distinct_first_replies"] == pytest.approx((3 / 4 + 1 / 2) / 2)  # {a, c, ""} of 4; {x} of 2
    assert m["distinct_transcripts"] == pytest.approx((4 / 4 + 1 / 2) / 2)
    assert m["tool_call_rate"] == pytest.approx(2 / 8)  # the Hermes text and the pre-parsed call, of 8 turns
    assert m["episode_turns"] == pytest.approx(8 / 6)
    assert RolloutStats().metrics() == {}


def _one_step(tmp_path, make_toy_config, *, sharpen: float) -> dict:
    torch.manual_seed(0)
    config = make_toy_config(str(tmp_path), steps=1, groups_per_step=4, group_size=4,
                             techniques={"dynamic_filtering": False})
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    with torch.no_grad():
        trainer.model.norm.weight.mul_(sharpen)  # scales every logit: large = a near-deterministic policy
    trainer.train()
    [record] = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    return record


def test_entropy_is_real_and_drops_when_the_policy_is_near_deterministic(tmp_path, make_toy_config):
    torch.set_num_threads(2)
    broad = _one_step(tmp_path / "broad", make_toy_config, sharpen=1.0)
    sharp = _one_step(tmp_path / "sharp", make_toy_config, sharpen=200.0)
    for record in (broad, sharp):
        assert set(METRICS) <= set(record)
        assert record["tool_call_rate"] == 0.0 and record["episode_turns"] == 1.0  # echo: one plain-text turn
    assert broad["entropy"] > 0.5  # ~uniform over a 16-token vocabulary is ln 16 = 2.77
    assert sharp["entropy"] < 0.1 * broad["entropy"]
    assert sharp["distinct_first_replies"] < broad["distinct_first_replies"]
    assert sharp["distinct_first_replies"] == pytest.approx(1 / 4)  # every group said one thing
