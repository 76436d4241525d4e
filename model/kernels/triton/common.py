"""Index helpers shared by the Triton kernels: every row offset is formed in int64."""

from __future__ import annotations

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


def dot_precision(dtype) -> str:
    """``tl.dot`` input precision: exact IEEE fp32 for fp32 inputs (TF32 would break 1e-5 parity), else the default."""
    import torch

    return "ieee" if dtype == torch.float32 else "tf32"
