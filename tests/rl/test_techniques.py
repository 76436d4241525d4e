"""Each V3.2 technique switched on and off on a constructed case, showing its effect."""

from __future__ import annotations

import math

import pytest
import torch
from agentgym.model import Transformer, get_preset
from agentgym.model.kernels import GRPOLossConfig

from agentgym.api import Trajectory, Turn
from agentgym.rl.logprobs import batch_logprobs
from agentgym.rl.loss import minibatch_loss
from agentgym.rl.sequences import Segment, collate, trajectory_segments

BOS = 1


def _segment(n: int, *, advantage: float, beta: float = 0.0, old: float = -1.0, env: str = "e") -> Segment:
    tokens = [BOS] + [3 + (i % 5) for i in range(n)]
    return Segment(tokens=tokens, trained=[1] * n, old_logprobs=[old] * n, supports=[None] * n,
                   advantage=advantage, beta=beta, env=env)


def _loss(logprobs, batch, config, ref=None):
    return minibatch_loss(logprobs, batch, config=config, ref_logprobs=ref).loss


def test_unbiased_kl_uses_each_envs_beta():
    batch = collate([_segment(3, advantage=0.0, beta=0.0, env="math"), _segment(3, advantage=0.0, beta=0.5,
                                                                                  env="chat")], pad_id=0)
    logprobs = torch.full((2, 3), -1.0, requires_grad=True)
    ref = torch.full((2, 3), -1.5)
    loss = _loss(logprobs, batch, GRPOLossConfig(), ref)
    # per token: β (π_θ/π_old) (π_ref/π_θ − log(π_ref/π_θ) − 1) with π_θ = π_old; token mean over 6 tokens
    d = -0.5
    expected = 0.5 * 3 * (math.exp(d) - d - 1) / 6
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert torch.all(logprobs.grad[0] == 0) and torch.all(logprobs.grad[1] != 0)  # β = 0: no KL gradient


def test_off_policy_sequence_masking_drops_stale_negative_sequences():
    # sequence 0: A < 0 and mean log(π_old/π_θ) = 0.15 > δ = 0.1 → masked (its ratio 0.86 is inside the clip range,
    # so without the mask it would get a gradient); sequence 1: A > 0 → kept
    batch = collate([_segment(2, advantage=-1.0, old=-1.0), _segment(2, advantage=1.0, old=-1.0)], pad_id=0)
    logprobs = torch.full((2, 2), -1.15, requires_grad=True)
    on = GRPOLossConfig(off_policy_threshold=0.1)
    _loss(logprobs, batch, on).backward()
    assert torch.all(logprobs.grad[0] == 0) and torch.all(logprobs.grad[1] != 0)
    logprobs.grad = None
    _loss(logprobs, batch, GRPOLossConfig()).backward()
    assert torch.all(logprobs.grad[0] != 0)


def test_gspo_sequence_ratio_formula():
    batch = collate([_segment(2, advantage=1.0, old=-1.0)], pad_id=0)
    logprobs = torch.tensor([[-0.9, -1.3]])
    loss = _loss(logprobs, batch, GRPOLossConfig(importance_level="sequence", clip_high=10.0))
    ratio = math.exp(((-0.9 + 1.0) + (-1.3 + 1.0)) / 2)  # exp(mean_t log π_θ/π_old)
    assert float(loss) == pytest.approx(-ratio, rel=1e-5)
    token_loss = _loss(logprobs, batch, GRPOLossConfig(clip_high=10.0))
    assert float(token_loss) == pytest.approx(-(math.exp(0.1) + math.exp(-0.3)) / 2, rel=1e-5)


def test_dr_grpo_constant_normalizer():
    batch = collate([_segment(1, advantage=1.0, old=-1.0), _segment(3, advantage=1.0, old=-1.0)], pad_id=0)
    logprobs = batch.old_logprobs.nan_to_num(0.0).clone()
    dr = _loss(logprobs, batch, GRPOLossConfig(aggregation="dr_grpo", max_tokens=10))
    assert float(dr) == pytest.approx(-(1 + 3) / (2 * 10))  # Σ −A·r / (num_seqs · max_tokens)
    seq = _loss(logprobs, batch, GRPOLossConfig(aggregation="sequence_mean"))
    assert float(seq) == pytest.approx(-1.0)


def _two_turn_trajectory() -> Trajectory:
    first = Turn(prompt_ids=[BOS, 5, 6], completion_ids=[7, 8], logprobs=[-1.0, -1.0], loss_mask=[1, 1])
    second = Turn(prompt_ids=[9, 9, 9], completion_ids=[10], logprobs=[-1.0], loss_mask=[1])  # 9 = tool output
    return Trajectory(task_id="t", env="e", turns=[first, second])


def test_tool_output_tokens_are_masked_out_of_the_loss():
    [masked] = trajectory_segments(_two_turn_trajectory(), bos_id=BOS, advantage=1.0)
    assert masked.tokens == [BOS, 5, 6, 7, 8, 9, 9, 9, 10]
    # target positions: 5 6 7 8 9 9 9 10 → trained only where the target is a completion token
    assert masked.trained == [0, 0, 1, 1, 0, 0, 0, 1]
    [unmasked] = trajectory_segments(_two_turn_trajectory(), bos_id=BOS, advantage=1.0, mask_tool_outputs=False)
    assert unmasked.trained == [0, 0, 1, 1, 1, 1, 1, 1]
    for segment, tool_grad_is_zero in ((masked, True), (unmasked, False)):
        batch = collate([segment], pad_id=0)
        logprobs = torch.full((1, 8), -1.0, requires_grad=True)
        _loss(logprobs, batch, GRPOLossConfig()).backward()
        assert bool(torch.all(logprobs.grad[0, 4:7] == 0)) is tool_grad_is_zero


def test_a_turn_starting_with_bos_opens_a_new_segment():
    trajectory = _two_turn_trajectory()
    trajectory.turns[1].prompt_ids = [BOS, 9]
    assert [s.tokens for s in trajectory_segments(trajectory, bos_id=BOS)] == [[BOS, 5, 6, 7, 8], [BOS, 9, 10]]


@pytest.fixture(scope="module")
def moe_model():
    torch.manual_seed(0)
    return Transformer(get_preset("tiny").replace(vocab_size=16, index_n_heads=0)).eval()


def test_keep_routing_replays_the_recorded_experts(moe_model):
    segment = _segment(5, advantage=1.0)
    natural = moe_model(torch.tensor([segment.tokens])).routed_experts[0]
    recorded = (natural + 3) % moe_model.cfg.n_routed_experts  # experts the sampler "used", not today's routing
    recorded = recorded.sort(dim=-1).values
    segment.experts = recorded.tolist()
    batch = collate([segment], pad_id=0, num_moe_layers=1, top_k=2)
    assert torch.equal(batch.experts[0], recorded)
    kept = batch_logprobs(moe_model, batch, keep_routing=True)
    free = batch_logprobs(moe_model, batch, keep_routing=False)
    forced = moe_model(batch.tokens, forced_experts=batch.experts)
    by_hand = torch.log_softmax(forced.logits[0, :-1], -1).gather(-1, batch.targets[0, :, None]).squeeze(-1)
    assert torch.allclose(kept[0], by_hand, atol=1e-5)
    assert not torch.allclose(kept, free, atol=1e-4)


def test_keep_sampling_mask_renormalizes_over_the_recorded_support(moe_model):
    segment = _segment(3, advantage=1.0)
    segment.supports = [[t, 0, 2] for t in segment.tokens[1:]]  # top-k support {target, 0, 2}
    batch = collate([segment], pad_id=0)
    with torch.no_grad():
        kept = batch_logprobs(moe_model, batch, keep_sampling_mask=True)
        full = batch_logprobs(moe_model, batch, keep_sampling_mask=False)
        logits = moe_model(batch.tokens).logits[0, :-1]
    for p, target in enumerate(segment.tokens[1:]):
        support = torch.tensor([target, 0, 2])
        expected = logits[p, target] - torch.logsumexp(logits[p, support], 0)
        assert float(kept[0, p]) == pytest.approx(float(expected), abs=1e-5)
    assert torch.all(kept > full)  # renormalizing over a subset raises every in-support logprob


def test_support_is_dropped_when_a_trained_position_has_none():
    a, b = _segment(2, advantage=1.0), _segment(2, advantage=1.0)
    a.supports = [[t] for t in a.tokens[1:]]
    assert collate([a, b], pad_id=0).supports is None
    assert collate([a], pad_id=0).supports is not None
