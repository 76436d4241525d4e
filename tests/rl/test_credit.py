"""Turn-level credit: the exact per-token advantage tensor of a hand-built 3-turn group in each mode, and the sign of
the loss gradient follows it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from agentgym.model.kernels import GRPOLossConfig

from agentgym.api import Trajectory, Turn
from agentgym.rl.collector import Collection, Group
from agentgym.rl.config import parse_config
from agentgym.rl.credit import discounted_returns, turn_advantages
from agentgym.rl.loss import minibatch_loss
from agentgym.rl.sequences import collate
from agentgym.rl.trainer import GRPOTrainer

BOS = 1


def _turn(prompt, completion, reward):
    return Turn(prompt_ids=prompt, completion_ids=completion, logprobs=[-0.5] * len(completion),
                loss_mask=[1] * len(completion), reward=reward)


def _group() -> Group:
    """A: rewards (1, 0, 2), R = 3; B: rewards (0, 1, 0), R = 1. Tokens: A has 11 targets, B 8."""
    a = Trajectory(task_id="t", env="e", turns=[_turn([BOS, 5, 6], [7, 8], 1.0), _turn([9], [10], 0.0),
                                                  _turn([11, 12], [13, 14, 15], 2.0)], reward=3.0)
    b = Trajectory(task_id="t", env="e", turns=[_turn([BOS, 5], [7], 0.0), _turn([9, 9], [10, 10], 1.0),
                                                  _turn([11], [13], 0.0)], reward=1.0)
    return Group(env="e", task=None, trajectories=[a, b], rewards=[3.0, 1.0])


# per target position, the turn it belongs to (prompt targets included) and whether it is trained
A_TURNS = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
A_TRAINED = [0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1]
B_TURNS = [0, 0, 1, 1, 1, 1, 2, 2]
B_TRAINED = [0, 1, 0, 0, 1, 1, 0, 1]
PER_TURN = {
    # turn means (0.5, 0.5, 1): A − mean, B − mean
    "turn_group_baseline": ([0.5, -0.5, 1.0], [-0.5, 0.5, -1.0]),
    # γ = 0.5: G_A = (1.5, 1, 2), G_B = (0.5, 1, 0); per-turn means (1, 1, 1)
    "per_turn_discounted": ([0.5, 0.0, 1.0], [-0.5, 0.0, -1.0]),
    # R − mean R = ±1 on every turn
    "outcome": ([1.0] * 3, [-1.0] * 3),
}


def _expected(mode: str) -> torch.Tensor:
    a, b = PER_TURN[mode]
    rows = [[a[t] for t in A_TURNS], [b[t] for t in B_TURNS] + [0.0] * 3]  # B padded to A's width
    return torch.tensor(rows)


def _segments(mode: str):
    config = parse_config({"envs": [{"name": "echo"}], "techniques": {"credit": mode, "gamma": 0.5}})
    trainer = SimpleNamespace(config=config, tokenizer=SimpleNamespace(bos_id=BOS), betas={})
    return GRPOTrainer.segments_of(trainer, Collection(groups=[_group()]))


def test_discounted_returns():
    assert discounted_returns([1.0, 0.0, 2.0], 0.5) == [1.5, 1.0, 2.0]
    assert discounted_returns([0.0, 1.0, 0.0], 1.0) == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("mode", ["outcome", "per_turn_discounted", "turn_group_baseline"])
def test_per_token_advantages_of_a_hand_built_three_turn_group(mode):
    segments = _segments(mode)
    assert [s.trained for s in segments] == [A_TRAINED, B_TRAINED]
    batch = collate(segments, pad_id=0)
    if mode == "outcome":  # today's path, untouched: one advantage per sequence
        assert batch.token_advantages is None
        assert batch.advantages.tolist() == [1.0, -1.0]
        per_token = batch.advantages[:, None].expand(2, 11) * (torch.arange(11) < torch.tensor([[11], [8]]))
    else:
        per_token = batch.token_advantages
    assert per_token.shape == (2, 11)
    assert per_token.tolist() == _expected(mode).tolist()


def test_shaping_is_credited_to_the_last_turn_and_single_trajectory_turns_get_zero():
    group = _group()
    group.trajectories[1].turns.append(_turn([16], [17], 5.0))  # a 4th turn only B has
    got = turn_advantages(group.trajectories, [3.5, 6.0], mode="turn_group_baseline")
    # A's last turn: 2 + (3.5 − 3) = 2.5; turn-2 mean (2.5 + 0) / 2; B's 4th turn has no baseline but itself
    assert got == [[0.5, -0.5, 1.25], [-0.5, 0.5, -1.25, 0.0]]
    with pytest.raises(ValueError, match="credit mode must be one of"):
        turn_advantages(group.trajectories, [1.0, 1.0], mode="bogus")


@pytest.mark.parametrize("mode", ["per_turn_discounted", "turn_group_baseline"])
@pytest.mark.parametrize("path", ["ref", "cpu"])
def test_loss_gradient_sign_follows_the_per_token_advantages(mode, path):
    batch = collate(_segments(mode), pad_id=0)
    old = torch.where(torch.isnan(batch.old_logprobs), torch.zeros(()), batch.old_logprobs)
    logprobs = old.clone().requires_grad_()  # ratio 1: d loss / d logπ = −A · weight on trained tokens
    out = minibatch_loss(logprobs, batch, config=GRPOLossConfig(), kernel_path=path)
    (grad,) = torch.autograd.grad(out.loss, logprobs)
    want = -_expected(mode) * batch.trained / batch.trained.sum()
    torch.testing.assert_close(grad, want, atol=1e-7, rtol=0)
    trained = batch.trained > 0
    assert torch.equal(torch.sign(grad[trained]), -torch.sign(_expected(mode)[trained]))


@pytest.mark.slow
def test_a_training_step_with_turn_level_credit(tmp_path, make_toy_config):
    from agentgym.envs.echo_letter import EchoLetterEnv

    config = make_toy_config(str(tmp_path), steps=1, groups_per_step=2, group_size=4,
                             techniques={"credit": "turn_group_baseline", "dynamic_filtering": False})
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    collection = trainer.collector.collect(2, seed=0)
    segments = trainer.segments_of(collection)
    assert segments and all(s.advantages is not None and len(s.advantages) == len(s.trained) for s in segments)
    metrics = trainer.update(segments, 0)
    assert torch.isfinite(torch.tensor(metrics["loss"]))
