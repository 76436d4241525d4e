"""Helpers shared by the Triton kernels: int64 row offsets, the accumulation dtype, tl.dot precision."""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def int64_rows(block_id, BLOCK: tl.constexpr):
    """Row indices ``block_id·BLOCK + [0, BLOCK)`` in int64.

    Why: ``row · stride`` in int32 wraps once it passes 2³¹ (e.g. row·V for N·V > 2³¹ logits, or b·T·C in a large
    cache). The wrap surfaces only at GPU scale, so every kernel takes its row indices from here, and
    tests/model/kernels check this helper under the interpreter at offsets past 2³¹.
    """
    return block_id.to(tl.int64) * BLOCK + tl.arange(0, BLOCK).to(tl.int64)


def accumulation_dtype(dtype: torch.dtype) -> tuple[torch.dtype, tl.dtype]:
    """(torch, triton) dtype the kernels accumulate in: fp64 for fp64 inputs, else fp32.

    Why fp64 at all: it lets ``torch.autograd.gradcheck`` run through the kernels themselves (finite differences
    need fp64), as it does on the cpu path; bf16/fp16/fp32 inputs still accumulate in fp32.
    """
    return (torch.float64, tl.float64) if dtype == torch.float64 else (torch.float32, tl.float32)


def scalar_args(*values: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Host scalars as a small tensor in the accumulation dtype.

    Why not plain kernel arguments: Triton passes a Python float as fp32, so a temperature or scale would be rounded
    to fp32 even in an fp64 run; kernels load these from the tensor instead.
    """
    return torch.tensor(values, dtype=dtype, device=device)


def dot_precision(dtype: torch.dtype) -> str:
    """``tl.dot`` input precision: exact IEEE for fp32/fp64 inputs (TF32 would break 1e-5 parity), else the default."""
    return "ieee" if dtype in (torch.float32, torch.float64) else "tf32"
