"""The trainer's optimizer: torch AdamW by default, or a lean AdamW that can step inside backward.

`LeanAdamW` exists for memory (docs/memory.md). Stepped after backward it is torch's fused AdamW (the same kernel,
called per parameter) or, with moments stored in bfloat16, the same kernel run on fp32 copies of 128K-element
slices of the moments, which are rounded back to bfloat16 after each slice. With
`in_backward=True` it steps each parameter from a post-accumulate-grad hook and frees that gradient at once, the
pattern of PyTorch's "optimizer step in backward" tutorial, so only one parameter's gradient lives at a time.
Updates run over flat chunks so the fp32 temporaries stay small even for the 49152 × 576 embedding.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from agentgym.rl.memory_config import MemorySection

_CHUNK = 1 << 17  # elements per bf16-moment update slice: fp32 temporaries of 512 KiB each stay in cache


class LeanAdamW:
    """AdamW (decoupled weight decay, bias-corrected) with a choice of moment dtype and of when it steps.

    Mimics the parts of `torch.optim.Optimizer` the trainer uses: `param_groups[0]["lr"]` (read at each step),
    `zero_grad`, `step`, `state_dict`/`load_state_dict`.

    Args:
        params: the trained parameters.
        lr, betas, eps, weight_decay: as torch.optim.AdamW.
        state_dtype: dtype of the moments (float32 or bfloat16).
        in_backward: step each parameter inside backward (then `step()` does nothing and grads are never kept).
    """

    def __init__(self, params: list[torch.nn.Parameter], *, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, state_dtype: torch.dtype = torch.float32,
                 in_backward: bool = False) -> None:
        self.params = list(params)
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
        self._grad_sq_sum += float(grad.float().square().sum())
        if not state:
            state["step"] = 0
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
        flat_m, flat_v = state["exp_avg"].view(-1), state["exp_avg_sq"].view(-1)
        fused = hasattr(torch, "_fused_adamw_") and p.dtype == torch.float32
        for start in range(0, flat_p.numel(), _CHUNK):  # widen a slice of the moments, update it, store it back
            sl = slice(start, start + _CHUNK)
            g, m, v = flat_g[sl].float(), flat_m[sl].float(), flat_v[sl].float()
            if fused:
                torch._fused_adamw_([flat_p[sl]], [g], [m], [v], [], [torch.tensor(float(state["step"]))], lr=lr,
                                    beta1=beta1, beta2=beta2, weight_decay=wd, eps=eps, amsgrad=False,
                                    maximize=False)
            else:  # torch's single-tensor AdamW formula
                flat_p[sl].mul_(1 - lr * wd)
                m.lerp_(g, 1 - beta1)
                v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                denom = (v.sqrt() / math.sqrt(1 - beta2 ** state["step"])).add_(eps)
                flat_p[sl].addcdiv_(m.to(flat_p.dtype), denom.to(flat_p.dtype),
                                    value=-lr / (1 - beta1 ** state["step"]))
            flat_m[sl].copy_(m)
            flat_v[sl].copy_(v)

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
                "param_groups": [dict(g) for g in self.param_groups]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.param_groups = [dict(g) for g in state_dict["param_groups"]]
        self.param_groups[0]["betas"] = tuple(self.param_groups[0]["betas"])
        self.state = [{} for _ in self.params]
        for i, s in state_dict["state"].items():
            self.state[int(i)] = {"step": int(s["step"]), "exp_avg": s["exp_avg"].to(self.state_dtype),
                                  "exp_avg_sq": s["exp_avg_sq"].to(self.state_dtype)}

    def remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []


def build_optimizer(params: list[torch.nn.Parameter], optim: Any, memory: MemorySection) -> Any:
    """torch AdamW for the default settings, `LeanAdamW` when a memory option asks for it.

    Raises:
        ValueError: optimizer_in_backward together with grad_clip (the clip needs every gradient first).
    """
    if memory.optimizer_in_backward and optim.grad_clip is not None:
        raise ValueError("memory.optimizer_in_backward steps each parameter during backward, before the global "
                         "gradient norm is known: set optim.grad_clip: null to use it")
    if not memory.optimizer_in_backward and memory.optimizer_state_dtype == "float32":
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
