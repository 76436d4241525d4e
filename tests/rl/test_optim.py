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
    from agentgym.envs.echo_letter import EchoLetterEnv
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


def test_8bit_codes_round_trip_within_their_error_bounds():
    from agentgym.rl.optim import (
        dequantize_signed8,
        dequantize_sqrt_log8,
        quantize_signed8,
        quantize_sqrt_log8,
    )
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1024, generator=g) * torch.logspace(-6, 0, 1024)  # magnitudes spread over 6 decades
    back = dequantize_signed8(*quantize_signed8(x))
    assert (back.sign() == x.sign()).all()  # the 6 decades are within the map's range: nothing rounds to zero
    assert ((back / x - 1).abs() <= 2 ** (1 / 12) - 1 + 1e-5).all()  # half a log step of |m|
    tiny = torch.tensor([1.0, 1e-9] + [0.0] * 254)
    assert dequantize_signed8(*quantize_signed8(tiny))[1] == 0.0  # below 2^-21 of the block's absmax: zero
    v = x.square()
    v[5] = 0.0
    back_v = dequantize_sqrt_log8(*quantize_sqrt_log8(v))
    assert back_v[5] == 0.0
    nonzero = v > 0
    assert (back_v[nonzero] > 0).all()  # tiny second moments never round to zero (no eps-sized denominators)
    rel = (back_v[nonzero].sqrt() / v[nonzero].sqrt() - 1).abs()
    assert rel.max() <= 2 ** (1 / 16) - 1 + 1e-5  # half a log step of sqrt(v)


def test_8bit_moments_track_fp32_adamw_on_a_quadratic():
    g = torch.Generator().manual_seed(1)
    curvature = torch.logspace(-2, 1, 3000)[torch.randperm(3000, generator=g)]  # not a multiple of 256: padding
    target = torch.randn(3000, generator=g)
    start = torch.randn(3000, generator=g)

    def run(state_dtype):
        x = torch.nn.Parameter(start.clone())
        opt = (torch.optim.AdamW([x], lr=3e-2, weight_decay=0.01) if state_dtype is None else
               LeanAdamW([x], lr=3e-2, weight_decay=0.01, state_dtype=state_dtype))
        losses = []
        for _ in range(300):
            opt.zero_grad()
            loss = 0.5 * (curvature * (x - target).square()).sum()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return x.detach(), losses, opt

    x32, l32, _ = run(None)
    x8, l8, opt = run(torch.int8)
    assert opt.state[0]["exp_avg"].dtype == torch.int8 and opt.state[0]["exp_avg_sq"].dtype == torch.uint8
    assert opt.state[0]["exp_avg"].numel() == 3072
    assert l8[-1] < 1e-3 * l8[0]  # it optimizes
    for a, b in zip(l32[::50], l8[::50]):
        assert b == pytest.approx(a, rel=0.15)
    assert float((x8 - x32).abs().max()) < 0.03 * float((start - target).abs().max())
    assert float((x8 - x32).abs().max()) > 0  # the rounding is real, not a silent fp32 path


def test_8bit_state_dict_round_trip_resumes_exactly():
    a, b = _model(), _model()
    opt_a = LeanAdamW(list(a.parameters()), lr=1e-2, state_dtype=torch.int8)
    _train(a, opt_a, 4)
    opt_b = LeanAdamW(list(b.parameters()), lr=1e-2, state_dtype=torch.int8)
    _train(b, opt_b, 2)
    saved_model, saved_opt = copy.deepcopy(b.state_dict()), copy.deepcopy(opt_b.state_dict())
    c = _model()
    c.load_state_dict(saved_model)
    opt_c = LeanAdamW(list(c.parameters()), lr=1e-2, state_dtype=torch.int8)
    opt_c.load_state_dict(saved_opt)
    for step in (2, 3):
        opt_c.zero_grad()
        _loss(c, step).backward()
        opt_c.step()
    assert _max_diff(a, c) == 0.0
    widened = LeanAdamW(list(_model().parameters()), lr=1e-2, state_dtype=torch.float32)
    widened.load_state_dict(saved_opt)  # 8-bit state into an fp32 optimizer
    assert all(s["exp_avg"].dtype == torch.float32 for s in widened.state if s)


def test_activation_checkpointing_reaches_params_after_frozen_layers():
    plain, ckpt = _model(), _model()
    ckpt.activation_checkpointing = True
    for model in (plain, ckpt):
        model.embed.weight.requires_grad_(False)  # block 0's input needs no grad, its weights do
        _loss(model, 0).backward()
    assert ckpt.layers[0].ffn.w1.weight.grad is not None
    for p, q in zip(plain.layers[0].parameters(), ckpt.layers[0].parameters()):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-7)


def test_memory_path_does_not_import_dynamo():
    import subprocess
    import sys
    code = """if True:
        import sys, torch
        from agentgym.model import Transformer, get_preset
        from agentgym.rl.optim import LeanAdamW
        import dataclasses
        model = Transformer(dataclasses.replace(get_preset("tiny"), n_dense_layers=2, n_mtp_layers=0))  # dense
        model.activation_checkpointing = True
        LeanAdamW(list(model.parameters()), lr=1e-3, state_dtype=torch.int8, in_backward=True)
        tokens = torch.randint(0, model.cfg.vocab_size, (2, 10))
        model(tokens).logits.float().logsumexp(-1).mean().backward()
        assert all(p.grad is None for p in model.parameters())
        print('torch._dynamo' in sys.modules)
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_stochastic_rounding_is_unbiased_and_lands_on_neighbouring_bf16_values():
    from agentgym.rl.optim import stochastic_round_bf16

    x = torch.tensor([1.0 + 2 ** -10, -3.0 - 3 * 2 ** -9, 0.1, 0.0, -1e-20]).repeat(20_000, 1)
    out = stochastic_round_bf16(x, torch.Generator().manual_seed(0))
    assert out.dtype == torch.bfloat16
    low = x[0].to(torch.bfloat16).float()
    for j in range(x.shape[1]):  # every output is one of the two bf16 values around x
        values = set(out[:, j].float().tolist())
        assert len(values) <= 2
        assert all(abs(v - x[0, j].item()) <= abs(x[0, j].item()) * 2 ** -7 + 1e-30 for v in values)
    mean = out.float().mean(dim=0)
    assert torch.allclose(mean, x[0], rtol=2e-4, atol=0)  # E[out] = x (round-to-nearest is off by up to 2^-9)
    assert (mean[0] - low[0]).abs() > 0  # 1 + 2^-10 is not a bf16 value: nearest rounding would give exactly 1
    again = stochastic_round_bf16(x, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_bf16_parameters_follow_fp32_adamw_where_nearest_rounding_would_stall():
    torch.manual_seed(0)
    target = torch.randn(4096) * 0.05
    start = torch.randn(4096) * 0.05 + 1.0  # weights near 1: one bf16 step is 2^-7, far above lr=1e-4
    ref = torch.nn.Parameter(start.clone())
    low = torch.nn.Parameter(start.clone().to(torch.bfloat16))
    ref_opt = torch.optim.AdamW([ref], lr=1e-4, weight_decay=0.0)
    low_opt = LeanAdamW([low], lr=1e-4, weight_decay=0.0, seed=3)
    for _ in range(300):
        for p, opt in ((ref, ref_opt), (low, low_opt)):
            opt.zero_grad()
            ((p.float() - target) ** 2).sum().backward()
            opt.step()
    moved_ref = (start - ref.detach()).mean()
    moved_low = (start - low.detach().float()).mean()
    assert moved_ref > 0.02  # AdamW moved every weight by ~lr per step
    assert abs(moved_low - moved_ref) < 0.1 * moved_ref  # the bf16 weights moved as far, on average
    nearest = start.to(torch.bfloat16).float() - 1e-4  # one nearest-rounded step does not move them at all
    assert torch.equal(nearest.to(torch.bfloat16).float(), start.to(torch.bfloat16).float())


def test_trainer_trains_a_bf16_model(tmp_path, make_toy_config):
    from agentgym.envs.echo_letter import EchoLetterEnv
    from agentgym.rl.trainer import GRPOTrainer

    config = make_toy_config(str(tmp_path), steps=2, groups_per_step=2, model={"dtype": "bfloat16"})
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    before = [p.detach().clone() for p in trainer.params]
    metrics = trainer.step(0)
    assert all(p.dtype == torch.bfloat16 for p in trainer.model.parameters())
    assert isinstance(trainer.optimizer, LeanAdamW)  # torch's AdamW would round the updates away
    assert metrics["grad_norm"] > 0 and metrics["loss"] == metrics["loss"]
    assert any(not torch.equal(a, p) for a, p in zip(before, trainer.params))
    path = trainer.save(1)
    assert path.exists()


def test_trim_heap_runs_around_each_update_when_asked(tmp_path, make_toy_config, monkeypatch):
    import sys

    from agentgym.rl import trainer as trainer_module
    from agentgym.rl.heap import trim_heap
    from agentgym.envs.echo_letter import EchoLetterEnv

    if sys.platform.startswith("linux"):
        import platform

        assert trim_heap() is (platform.libc_ver()[0] == "glibc")
    calls = []
    monkeypatch.setattr(trainer_module, "trim_heap", lambda: calls.append(1) or True)
    for enabled, expected in ((False, 0), (True, 2)):
        calls.clear()
        config = make_toy_config(str(tmp_path / str(enabled)), steps=1, groups_per_step=1,
                                 memory={"trim_heap": enabled})
        trainer_module.GRPOTrainer(config, make_env=lambda name: EchoLetterEnv()).step(0)
        assert len(calls) == expected


def test_mixed_precision_trains_fp32_weights_with_bf16_matmuls(tmp_path, make_toy_config):
    from agentgym.envs.echo_letter import EchoLetterEnv
    from agentgym.rl.trainer import GRPOTrainer

    config = make_toy_config(str(tmp_path), steps=2, groups_per_step=2, model={"compute_dtype": "bfloat16"})
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    seen = []
    trainer.model.layers[0].attn.wo.register_forward_hook(
        lambda m, args, out: seen.append(out.dtype) if torch.is_grad_enabled() else None)
    before = [p.detach().clone() for p in trainer.params]
    metrics = trainer.step(0)
    assert seen and set(seen) == {torch.bfloat16}  # the update's forward ran its matmuls in bf16
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # master weights stay fp32
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in trainer.params)
    assert metrics["grad_norm"] > 0 and metrics["loss"] == metrics["loss"]
    assert any(not torch.equal(a, p) for a, p in zip(before, trainer.params))
    assert trainer.policy.engine.config.pack_dtype == "bfloat16"


def test_recompute_replays_the_autocast_state():
    plain, ckpt = _model(), _model()
    ckpt.activation_checkpointing = True
    grads = []
    for model in (plain, ckpt):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = _loss(model, 0)
        loss.backward()
        grads.append([p.grad for p in model.parameters()])
    fp32 = _model()
    _loss(fp32, 0).backward()
    for a, b, c in zip(*grads, [p.grad for p in fp32.parameters()]):
        if a is None:
            continue
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)  # the rerun used bf16 too ...
        assert b.dtype == torch.float32
    assert any(a is not None and not torch.allclose(a, c, rtol=1e-4, atol=1e-6)
               for a, c in zip(grads[1], [p.grad for p in fp32.parameters()]))  # ... unlike an fp32 rerun would


def test_compute_dtype_float32_needs_float32_weights(tmp_path, make_toy_config):
    from agentgym.rl.config import ConfigError

    with pytest.raises(ConfigError, match="compute_dtype"):
        make_toy_config(str(tmp_path), model={"dtype": "bfloat16", "compute_dtype": "float32"})


def test_tied_embedding_gets_its_lookup_gradient_sparse_and_the_same_total(tmp_path, make_toy_config):
    from agentgym.envs.echo_letter import EchoLetterEnv
    from agentgym.rl.trainer import GRPOTrainer

    config = make_toy_config(str(tmp_path), steps=1, groups_per_step=2, num_minibatches=1,
                             model={"overrides": {"vocab_size": 16, "tie_embeddings": True}})
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    assert trainer.model.embed.sparse and trainer.model.head is None
    dense = copy.deepcopy(trainer.model)
    dense.embed.sparse = False
    tokens = torch.randint(0, 16, (3, 7), generator=torch.Generator().manual_seed(0))
    for model in (trainer.model, dense):
        logits = model(tokens).logits
        logits.logsumexp(-1).sum().backward()
    assert trainer.model.embed.weight.grad.layout == torch.strided  # summed into the head's dense gradient
    torch.testing.assert_close(trainer.model.embed.weight.grad, dense.embed.weight.grad)


def test_8bit_codes_follow_their_documented_formulas():
    """The pass-saving implementation (offsets folded into the block scale, no masks) writes the documented codes."""
    from agentgym.rl.optim import quantize_signed8, quantize_sqrt_log8

    g = torch.Generator().manual_seed(2)
    x = torch.randn(4096, generator=g) * torch.logspace(-9, 0, 4096)
    x[::50] = 0.0
    codes, absmax = quantize_signed8(x.clone())
    blocks = x.view(-1, 256)
    want = (6 * torch.log2(blocks.abs() / blocks.abs().amax(1, keepdim=True)) + 127).round().clamp(0, 127)
    want = (want * blocks.sign()).view(-1)
    assert (codes.float() - want).abs().max() <= 1 and (codes.float() != want).float().mean() < 0.01  # ties only
    assert torch.equal(absmax, blocks.abs().amax(1))
    v = x.square()
    codes_v, top = quantize_sqrt_log8(v.clone())
    root = v.sqrt().view(-1, 256)
    want_v = (8 * torch.log2(root / root.amax(1, keepdim=True)) + 255).round().clamp(1, 255)
    want_v = want_v.masked_fill(root == 0, 0).view(-1)
    assert codes_v.dtype == torch.uint8
    assert (codes_v.float() - want_v).abs().max() <= 1 and (codes_v.float() != want_v).float().mean() < 0.01
    assert torch.equal(codes_v == 0, v == 0)
    torch.testing.assert_close(top, root.amax(1))


def test_trainer_frees_the_engines_packed_copies_before_each_update(tmp_path, make_toy_config, monkeypatch):
    from agentgym.rl import trainer as trainer_module
    from agentgym.envs.echo_letter import EchoLetterEnv
    from agentgym.rl.trainer import GRPOTrainer

    trainer = GRPOTrainer(make_toy_config(str(tmp_path), steps=1, groups_per_step=2),
                          make_env=lambda name: EchoLetterEnv())
    engine, events = trainer.policy.engine, []
    real_release, real_update = engine.release_packs, trainer_module.GRPOTrainer.update
    monkeypatch.setattr(engine, "release_packs", lambda: events.append("release") or real_release())
    monkeypatch.setattr(trainer_module.GRPOTrainer, "update",
                        lambda self, *a, **k: events.append("update") or real_update(self, *a, **k))
    trainer.step(0)
    trainer.step(1)
    assert events == ["release", "update", "release", "update"]
