"""The trainer's optimizer: torch AdamW by default, or a lean AdamW that can step inside backward.

`LeanAdamW` exists for memory (docs/memory.md). Stepped after backward it is torch's fused AdamW (the same kernel,
called per parameter) or, with moments stored in bfloat16, the same kernel run on fp32 copies of 128K-element
slices of the moments, which are rounded back to bfloat16 after each slice. With
`in_backward=True` it steps each parameter from a post-accumulate-grad hook and frees that gradient at once, the
pattern of PyTorch's "optimizer step in backward" tutorial, so only one parameter's gradient lives at a time.
Updates run over flat chunks so the fp32 temporaries stay small even for the 49152 × 576 embedding.

With moments stored in 8 bits (`state_dtype=torch.int8`), each block of 256 elements keeps one fp32 scale: the first
moment on a signed log scale (code ±c is ±absmax·2^((c-127)/6)), the second as sqrt(v) on a log scale (code c in
1..255 is max·2^((c-255)/8), 0 is zero), so small values survive next to large ones in the same block. (A linear
absmax map for the first moment rounded the small-gradient elements of a block to zero, and they stopped moving.) The
update itself is the same fused fp32 AdamW on the widened slice. Per element: 2 bytes of state instead of 8 (fp32).

Parameters stored in bfloat16 (`model.dtype: bfloat16`) are widened slice by slice too, updated in fp32 and written
back with stochastic rounding: round-to-nearest would drop every update smaller than half a bf16 step (2^-9 of the
weight), which at RL learning rates is nearly all of them; rounding up with probability equal to the remainder keeps
the expected weight equal to the fp32 update.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from agentgym.rl.memory_config import MemorySection

_CHUNK = 1 << 17  # elements per bf16-moment update slice: fp32 temporaries of 512 KiB each stay in cache
_BLOCK = 256  # elements per 8-bit quantization block (one fp32 scale each); _CHUNK is a multiple of it
_M_LOG_STEPS = 6  # 8-bit first moment: codes per octave of |m| (relative rounding error <= 2^(1/12)-1 = 5.9%)
_LOG_STEPS = 8  # 8-bit second moment: codes per octave of sqrt(v) (relative rounding error <= 2^(1/16)-1 = 4.4%)


_TINY = torch.finfo(torch.float32).tiny
# The four functions below run ~34,000 times a step on SmolLM2 (four per 128K-element slice), so each is a handful of
# whole-slice passes: the log-scale offsets are folded into the per-block scale, and no mask tensor is built
# (masked_fill and == alone cost more than the rest on this CPU).


def quantize_signed8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 codes of a flat fp32 tensor (length a multiple of 256) on a signed per-block log scale, and the blocks'
    absmax: code ±c (c in 1..127) is ±absmax·2^((c-127)/6); magnitudes below ~2^-21 of the absmax become 0."""
    mag = x.abs()
    blocks = mag.view(-1, _BLOCK)
    absmax = blocks.amax(dim=1)
    blocks.mul_((2 ** (127 / _M_LOG_STEPS) / absmax.clamp_min(_TINY))[:, None])  # log2 of it = code / 6
    codes = mag.log2_().mul_(_M_LOG_STEPS).round_().clamp_(0, 127)  # log2(0) = -inf -> 0
    return torch.copysign(codes, x).to(torch.int8), absmax


def dequantize_signed8(codes: torch.Tensor, absmax: torch.Tensor) -> torch.Tensor:
    c = codes.float()
    mag = c.abs().mul_(1 / _M_LOG_STEPS).sub_(127 / _M_LOG_STEPS).exp2_()
    return mag.view(-1, _BLOCK).mul_(absmax[:, None]).view(-1).mul_(c.sign())  # sign(0) = 0: code 0 is zero


def quantize_sqrt_log8(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 codes of sqrt(v) on a per-block log scale (v >= 0, flat, length a multiple of 256), and the blocks' max
    sqrt(v). Code c in 1..255 is max·2^((c-255)/8), 0 is zero; values below 2^-31.75 of the block's max are rounded
    up to the smallest code, never to zero (no eps-sized denominator under a nonzero first moment)."""
    blocks = v.view(-1, _BLOCK)
    top_sq = blocks.amax(dim=1)
    scaled = blocks.mul((2 ** (255 * 2 / _LOG_STEPS) / top_sq.clamp_min(_TINY))[:, None])  # log2 = 2·code / 8
    codes = scaled.log2_().mul_(_LOG_STEPS / 2).round_().clamp_(1, 255).mul_(blocks.sign())  # no sqrt; 0 -> 0
    return codes.to(torch.int32).to(torch.uint8).view(-1), top_sq.sqrt()  # via int32: 2x faster than direct


def dequantize_sqrt_log8(codes: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
    c = codes.float()
    nonzero = c.clamp(max=1)
    v = c.mul_(2 / _LOG_STEPS).sub_(255 * 2 / _LOG_STEPS).exp2_()  # (2^((c-255)/8))^2
    return v.mul_(nonzero).view(-1, _BLOCK).mul_(top.square()[:, None]).view(-1)


def _padded(n: int) -> int:
    return -(-n // _BLOCK) * _BLOCK


def stochastic_round_bf16(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """fp32 -> bfloat16, rounding |x| up with probability equal to the dropped fraction (unbiased: E[out] = x).

    bf16 keeps the top 16 bits of an fp32; adding uniform noise to the low 16 bits of the (sign-magnitude) pattern
    before clearing them carries into the kept bits with exactly that probability."""
    bits = x.contiguous().view(torch.int32)
    noise = torch.randint(0, 1 << 16, bits.shape, dtype=torch.int32, generator=generator)
    return bits.add(noise).bitwise_and_(-65536).view(torch.float32).to(torch.bfloat16)


class LeanAdamW:
    """AdamW (decoupled weight decay, bias-corrected) with a choice of moment dtype and of when it steps.

    Mimics the parts of `torch.optim.Optimizer` the trainer uses: `param_groups[0]["lr"]` (read at each step),
    `zero_grad`, `step`, `state_dict`/`load_state_dict`.

    Args:
        params: the trained parameters.
        lr, betas, eps, weight_decay: as torch.optim.AdamW.
        state_dtype: dtype of the moments (float32, bfloat16, or int8 for the blockwise 8-bit moments).
        in_backward: step each parameter inside backward (then `step()` does nothing and grads are never kept).
        seed: seed of the stochastic rounding of bfloat16 parameters (its state is saved with the optimizer).
    """

    def __init__(self, params: list[torch.nn.Parameter], *, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, state_dtype: torch.dtype = torch.float32,
                 in_backward: bool = False, seed: int = 0) -> None:
        self.params = list(params)
        self.rounding_generator = torch.Generator().manual_seed(seed)  # stochastic rounding of bf16 parameters
        self.param_groups = [{"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}]
        self.state_dtype, self.in_backward = state_dtype, in_backward
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self._grad_sq_sum = 0.0
        self._hooks = []
        if in_backward:
            for i, p in enumerate(self.params):
                self._hooks.append(p.register_post_accumulate_grad_hook(self._hook(i)))

    def _hook(self, index: int):
        def step_now(param: torch.Tensor) -> None:
            self._update(index, param.grad)
            param.grad = None
        return step_now

    @torch.no_grad()
    def _update(self, index: int, grad: torch.Tensor) -> None:
        group, p, state = self.param_groups[0], self.params[index], self.state[index]
        self._grad_sq_sum += float(torch.linalg.vector_norm(grad, dtype=torch.float32)) ** 2  # no squared copy
        if not state:
            state["step"] = 0
            if self.state_dtype == torch.int8:
                n = _padded(p.numel())
                state["exp_avg"] = torch.zeros(n, dtype=torch.int8)
                state["exp_avg_absmax"] = torch.zeros(n // _BLOCK)
                state["exp_avg_sq"] = torch.zeros(n, dtype=torch.uint8)
                state["exp_avg_sq_absmax"] = torch.zeros(n // _BLOCK)
            else:
                state["exp_avg"] = torch.zeros_like(p, dtype=self.state_dtype)
                state["exp_avg_sq"] = torch.zeros_like(p, dtype=self.state_dtype)
        state["step"] += 1
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if self.state_dtype == p.dtype and hasattr(torch, "_fused_adamw_"):  # torch's fused AdamW kernel, one tensor
            torch._fused_adamw_([p], [grad], [state["exp_avg"]], [state["exp_avg_sq"]], [],
                                [torch.tensor(float(state["step"]))], lr=lr, beta1=beta1, beta2=beta2,
                                weight_decay=wd, eps=eps, amsgrad=False, maximize=False)
            return
        flat_p, flat_g = p.view(-1), grad.reshape(-1)
        fused = hasattr(torch, "_fused_adamw_")
        widen = p.dtype == torch.bfloat16  # update an fp32 copy of the slice, store it with stochastic rounding
        for start in range(0, flat_p.numel(), _CHUNK):  # widen a slice of the moments, update it, store it back
            sl = slice(start, start + _CHUNK)
            g = flat_g[sl].float()
            m_full, v_full = self._load_moments(state, start, g.numel())
            m, v = m_full[:g.numel()], v_full[:g.numel()]
            w = flat_p[sl].float() if widen else flat_p[sl]
            if fused and w.dtype == torch.float32:
                torch._fused_adamw_([w], [g], [m], [v], [], [torch.tensor(float(state["step"]))], lr=lr,
                                    beta1=beta1, beta2=beta2, weight_decay=wd, eps=eps, amsgrad=False,
                                    maximize=False)
            else:  # torch's single-tensor AdamW formula
                w.mul_(1 - lr * wd)
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (v.sqrt() / math.sqrt(1 - beta2 ** state["step"])).add_(eps)
                w.addcdiv_(m.to(w.dtype), denom.to(w.dtype), value=-lr / (1 - beta1 ** state["step"]))
            if widen:
                flat_p[sl] = stochastic_round_bf16(w, self.rounding_generator)
            self._store_moments(state, start, m_full, v_full)

    def _load_moments(self, state: dict[str, Any], start: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """fp32 copies of the moments of elements start..start+n (8-bit: padded to whole blocks, padding zero)."""
        if self.state_dtype != torch.int8:
            sl = slice(start, start + n)
            return state["exp_avg"].view(-1)[sl].float(), state["exp_avg_sq"].view(-1)[sl].float()
        sl, bl = slice(start, start + _padded(n)), slice(start // _BLOCK, (start + _padded(n)) // _BLOCK)
        return (dequantize_signed8(state["exp_avg"][sl], state["exp_avg_absmax"][bl]),
                dequantize_sqrt_log8(state["exp_avg_sq"][sl], state["exp_avg_sq_absmax"][bl]))

    def _store_moments(self, state: dict[str, Any], start: int, m: torch.Tensor, v: torch.Tensor) -> None:
        if self.state_dtype != torch.int8:
            sl = slice(start, start + m.numel())
            state["exp_avg"].view(-1)[sl].copy_(m)
            state["exp_avg_sq"].view(-1)[sl].copy_(v)
            return
        sl, bl = slice(start, start + m.numel()), slice(start // _BLOCK, (start + m.numel()) // _BLOCK)
        state["exp_avg"][sl], state["exp_avg_absmax"][bl] = quantize_signed8(m)
        state["exp_avg_sq"][sl], state["exp_avg_sq_absmax"][bl] = quantize_sqrt_log8(v)

    # the torch.optim surface the trainer uses
    def zero_grad(self, set_to_none: bool = True) -> None:
        self._grad_sq_sum = 0.0
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Step every parameter that has a gradient (nothing to do when stepping inside backward)."""
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(i, p.grad)

    @property
    def grad_norm(self) -> float:
        """Global L2 norm of the gradients applied since the last `zero_grad`."""
        return math.sqrt(self._grad_sq_sum)

    def state_dict(self) -> dict[str, Any]:
        return {"state": {i: dict(s) for i, s in enumerate(self.state) if s},
                "param_groups": [dict(g) for g in self.param_groups],
                "rounding_rng": self.rounding_generator.get_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.param_groups = [dict(g) for g in state_dict["param_groups"]]
        self.param_groups[0]["betas"] = tuple(self.param_groups[0]["betas"])
        if "rounding_rng" in state_dict:
            self.rounding_generator.set_state(state_dict["rounding_rng"])
        self.state = [{} for _ in self.params]
        for i, s in state_dict["state"].items():
            if self.state_dtype == torch.int8 and "exp_avg_absmax" in s:  # 8-bit state saved by an 8-bit optimizer
                self.state[int(i)] = {k: (int(v) if k == "step" else v.clone()) for k, v in s.items()}
                continue
            m, v = s["exp_avg"], s["exp_avg_sq"]
            if "exp_avg_absmax" in s:  # 8-bit state into a float optimizer: widen
                n = self.params[int(i)].numel()
                m = dequantize_signed8(m, s["exp_avg_absmax"])[:n].view_as(self.params[int(i)])
                v = dequantize_sqrt_log8(v, s["exp_avg_sq_absmax"])[:n].view_as(self.params[int(i)])
            state = {"step": int(s["step"])}
            if self.state_dtype == torch.int8:  # float state into an 8-bit optimizer: quantize
                pad = _padded(m.numel()) - m.numel()
                state["exp_avg"], state["exp_avg_absmax"] = quantize_signed8(F.pad(m.float().view(-1), (0, pad)))
                state["exp_avg_sq"], state["exp_avg_sq_absmax"] = quantize_sqrt_log8(
                    F.pad(v.float().view(-1), (0, pad)))
            else:
                state["exp_avg"], state["exp_avg_sq"] = m.to(self.state_dtype), v.to(self.state_dtype)
            self.state[int(i)] = state

    def remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []


def build_optimizer(params: list[torch.nn.Parameter], optim: Any, memory: MemorySection) -> Any:
    """torch AdamW for the default settings, `LeanAdamW` when a memory option or bfloat16 parameters ask for it.

    Raises:
        ValueError: optimizer_in_backward together with grad_clip (the clip needs every gradient first).
    """
    if memory.optimizer_in_backward and optim.grad_clip is not None:
        raise ValueError("memory.optimizer_in_backward steps each parameter during backward, before the global "
                         "gradient norm is known: set optim.grad_clip: null to use it")
    low_precision = any(p.dtype == torch.bfloat16 for p in params)  # needs LeanAdamW's stochastic rounding
    if not memory.optimizer_in_backward and memory.optimizer_state_dtype == "float32" and not low_precision:
        # the fused kernel (one pass per tensor; TRL's default too) is ~5x less CPU than the for-loop AdamW
        fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)
        return torch.optim.AdamW(params, lr=optim.lr, betas=optim.betas, weight_decay=optim.weight_decay,
                                 fused=fused or None)
    return LeanAdamW(params, lr=optim.lr, betas=optim.betas, weight_decay=optim.weight_decay,
                     state_dtype=getattr(torch, memory.optimizer_state_dtype),
                     in_backward=memory.optimizer_in_backward)


def clip_and_step(optimizer: Any, params: list[torch.nn.Parameter], grad_clip: float | None) -> float:
    """Clip the gradients (if asked) and step; returns the global gradient norm before clipping."""
    if isinstance(optimizer, LeanAdamW) and optimizer.in_backward:
        return optimizer.grad_norm  # already stepped inside backward
    norm = float(torch.nn.utils.clip_grad_norm_(params, grad_clip or float("inf")))
    optimizer.step()
    return norm
