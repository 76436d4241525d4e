"""The lean AdamW (in-backward stepping, bf16 moments) against torch's AdamW, and activation checkpointing."""

from __future__ import annotations

import copy

import pytest
import torch
from agentgym.model import Transformer, get_preset

from agentgym.rl.memory_config import MemorySection
from agentgym.rl.optim import LeanAdamW, build_optimizer, clip_and_step


def _model() -> Transformer:
    torch.manual_seed(0)
    return Transformer(get_preset("tiny"))


def _loss(model: Transformer, seed: int) -> torch.Tensor:
    tokens = torch.randint(0, model.cfg.vocab_size, (2, 10), generator=torch.Generator().manual_seed(seed))
    logits = model(tokens).logits
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))


def _train(model: Transformer, optimizer, steps: int = 3) -> list[float]:
    norms = []
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        _loss(model, step).backward()
        norms.append(clip_and_step(optimizer, list(model.parameters()), None))
    return norms


def _max_diff(a: Transformer, b: Transformer) -> float:
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("in_backward", [False, True])
def test_lean_adamw_fp32_is_torch_adamw(in_backward):
    ref, lean = _model(), _model()
    kw = {"lr": 1e-2, "betas": (0.9, 0.99), "weight_decay": 0.1}
    ref_norms = _train(ref, torch.optim.AdamW(ref.parameters(), fused=True, **kw))
    norms = _train(lean, LeanAdamW(list(lean.parameters()), in_backward=in_backward, **kw))
    assert _max_diff(ref, lean) < 1e-6
    assert _max_diff(ref, _model()) > 1e-3  # it did train
    assert norms == pytest.approx(ref_norms, rel=1e-5)


def test_in_backward_frees_each_gradient():
    model = _model()
    LeanAdamW(list(model.parameters()), lr=1e-2, in_backward=True)
    before = copy.deepcopy(model)
    _loss(model, 0).backward()
    assert all(p.grad is None for p in model.parameters())
    assert _max_diff(before, model) > 1e-3  # stepped during backward


def test_bf16_moments_are_close_but_not_exact():
    ref, lean = _model(), _model()
    _train(ref, torch.optim.AdamW(ref.parameters(), lr=1e-2, foreach=False))
    opt = LeanAdamW(list(lean.parameters()), lr=1e-2, state_dtype=torch.bfloat16)
    _train(lean, opt)
    assert all(s["exp_avg"].dtype == torch.bfloat16 for s in opt.state if s)
    assert 0 < _max_diff(ref, lean) < 5e-3


def test_state_dict_round_trip_resumes_exactly():
    a, b = _model(), _model()
    opt_a = LeanAdamW(list(a.parameters()), lr=1e-2, state_dtype=torch.bfloat16, in_backward=True)
    _train(a, opt_a, 4)
    opt_b = LeanAdamW(list(b.parameters()), lr=1e-2, state_dtype=torch.bfloat16, in_backward=True)
    _train(b, opt_b, 2)
    saved_model, saved_opt = copy.deepcopy(b.state_dict()), copy.deepcopy(opt_b.state_dict())
    c = _model()
    c.load_state_dict(saved_model)
    opt_c = LeanAdamW(list(c.parameters()), lr=1e-2, state_dtype=torch.bfloat16, in_backward=True)
    opt_c.load_state_dict(saved_opt)
    for step in (2, 3):
        opt_c.zero_grad()
        _loss(c, step).backward()
    assert _max_diff(a, c) == 0.0


def test_build_optimizer_choices():
    params = list(_model().parameters())

    class Optim:
        lr, betas, weight_decay, grad_clip = 1e-3, (0.9, 0.999), 0.0, 1.0
    assert isinstance(build_optimizer(params, Optim, MemorySection()), torch.optim.AdamW)
    assert isinstance(build_optimizer(params, Optim, MemorySection(optimizer_state_dtype="bfloat16")), LeanAdamW)
    with pytest.raises(ValueError, match="grad_clip: null"):
        build_optimizer(params, Optim, MemorySection(optimizer_in_backward=True))


def test_activation_checkpointing_gives_the_same_gradients():
    plain, ckpt = _model(), _model()
    ckpt.activation_checkpointing = True
    loss_a, loss_b = _loss(plain, 0), _loss(ckpt, 0)
    loss_a.backward()
    loss_b.backward()
    assert float(loss_a.detach()) == float(loss_b.detach())
    for p, q in zip(plain.parameters(), ckpt.parameters()):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7)


def test_trainer_runs_with_every_memory_knob(tmp_path, make_toy_config):
    from agentgym.rl.toy import EchoLetterEnv
    from agentgym.rl.trainer import GRPOTrainer

    config = make_toy_config(str(tmp_path), steps=2, groups_per_step=2, optim={"grad_clip": None},
                             memory={"optimizer_in_backward": True, "optimizer_state_dtype": "bfloat16",
                                     "activation_checkpointing": True})
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    before = [p.detach().clone() for p in trainer.params]
    metrics = trainer.step(0)
    assert isinstance(trainer.optimizer, LeanAdamW) and trainer.model.activation_checkpointing
    assert metrics["grad_norm"] > 0
    assert all(p.grad is None for p in trainer.params)
    assert any(not torch.equal(a, p) for a, p in zip(before, trainer.params))
