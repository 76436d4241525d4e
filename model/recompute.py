"""Activation checkpointing without `torch.utils.checkpoint`: run a block without keeping its activations, then
recompute it in backward.

`torch.utils.checkpoint` (reentrant or not) imports `torch._dynamo` on first use, ~140 MiB of resident memory in a
process whose point is to save memory. This is the classic reentrant recipe in a few lines: the forward runs under
`no_grad` and keeps only the block's input; backward reruns the block with grad enabled and backpropagates through
that fresh graph, which accumulates the parameters' gradients (post-accumulate-grad hooks fire as usual).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class _Recompute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        ctx.fn = fn
        device = x.device.type  # rerun under the same autocast state (mixed precision), as the forward ran
        ctx.autocast = (device, torch.is_autocast_enabled(device), torch.get_autocast_dtype(device))
        ctx.save_for_backward(x)
        with torch.no_grad():
            return fn(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor | None]:
        (x,) = ctx.saved_tensors
        x = x.detach().requires_grad_(True)
        device, enabled, dtype = ctx.autocast
        with torch.enable_grad(), torch.autocast(device, dtype=dtype, enabled=enabled, cache_enabled=False):
            out = ctx.fn(x)
        torch.autograd.backward(out, grad.to(out.dtype))
        return None, x.grad


def recompute(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """`fn(x)`, keeping only `x` for backward (fn is rerun there). `fn` must be deterministic (no dropout) and its
    other inputs must not need gradients."""
    if not x.requires_grad:  # e.g. the first trained block after frozen ones: backward must still reach fn's params
        x = x.detach().requires_grad_(True)
    return _Recompute.apply(fn, x)
