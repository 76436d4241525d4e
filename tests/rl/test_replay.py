"""End to end: what the engine records (experts, top-k support, logprobs) lets training recompute π_old exactly."""

from __future__ import annotations

import asyncio

import pytest
import torch
from agentgym.model import Engine, EngineConfig, Transformer, get_preset

from agentgym.rl.logprobs import batch_logprobs
from agentgym.rl.sequences import collate, trajectory_segments
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.model.char_tokenizer import CharTokenizer
from agentgym.rollout import RolloutConfig, run_episodes
from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig


@pytest.fixture(scope="module")
def rollout():
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny").replace(vocab_size=16)).eval()
    tokenizer = CharTokenizer()
    policy = EnginePolicy(Engine(model, tokenizer, EngineConfig(max_batch_size=16, max_seq_len=64)),
                          EnginePolicyConfig(max_new_tokens=4, top_k=4, temperature=0.7, seed=3))
    tasks = EchoLetterEnv().sample_tasks(4, seed=0)
    trajectories = asyncio.run(run_episodes(EchoLetterEnv, policy, tasks,
                                            RolloutConfig(num_samples=4, max_turns=1, progress=False)))
    segments = [s for t in trajectories for s in trajectory_segments(t, bos_id=tokenizer.bos_id)]
    return model, collate(segments, pad_id=0, num_moe_layers=model.num_moe_layers, top_k=2)


def test_replaying_experts_and_support_reproduces_the_engine_logprobs(rollout):
    model, batch = rollout
    assert batch.experts is not None and batch.supports is not None
    with torch.no_grad():
        replayed = batch_logprobs(model, batch, temperature=0.7)
    trained = batch.trained > 0
    assert torch.allclose(replayed[trained], batch.old_logprobs[trained], atol=1e-4)


def test_without_the_sampling_mask_the_ratio_is_biased(rollout):
    model, batch = rollout
    with torch.no_grad():
        full = batch_logprobs(model, batch, temperature=0.7, keep_sampling_mask=False)
    trained = batch.trained > 0
    assert torch.all(full[trained] < batch.old_logprobs[trained] - 1e-4)  # π_θ/π_old < 1 on every token


def test_keep_routing_matters_once_the_router_moves(rollout):
    model, batch = rollout
    moe = next(layer.ffn for layer in model.layers if hasattr(layer.ffn, "gate"))
    saved = moe.gate.bias.clone()
    try:
        with torch.no_grad():
            moe.gate.bias.copy_(torch.linspace(-0.5, 0.5, saved.numel()))  # a policy update moved the routing
            kept = batch_logprobs(model, batch, temperature=0.7)
            free = batch_logprobs(model, batch, temperature=0.7, keep_routing=False)
    finally:
        with torch.no_grad():
            moe.gate.bias.copy_(saved)
    trained = batch.trained > 0
    assert torch.allclose(kept[trained], batch.old_logprobs[trained], atol=1e-4)  # bias selects only: same experts
    assert not torch.allclose(free[trained], batch.old_logprobs[trained], atol=1e-3)
