"""Triton path of absorbed MLA decode: a kernel per (row, head block) with online softmax; backward in torch."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..mla import mla_decode_backward
from .common import accumulation_dtype, dot_precision, int64_rows, scalar_args


@triton.jit
def mla_decode_kernel(
    ql_ptr, qpe_ptr, kv_ptr, pe_ptr, len_ptr, idx_ptr, out_ptr, lse_ptr, scale_ptr,
    num_heads, num_keys, latent_dim, rope_dim, max_len,
    stride_qb, stride_qh, stride_pb, stride_ph, stride_kvb, stride_kvt, stride_peb, stride_pet, stride_ib,
    HAS_INDEX: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_C: tl.constexpr,
    BLOCK_R: tl.constexpr, PRECISION: tl.constexpr, ACC: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    heads = int64_rows(tl.program_id(1), BLOCK_H)
    h_ok = heads < num_heads
    cs = tl.arange(0, BLOCK_C)
    rs = tl.arange(0, BLOCK_R)
    c_ok, r_ok = cs < latent_dim, rs < rope_dim
    q = tl.load(ql_ptr + b * stride_qb + heads[:, None] * stride_qh + cs[None, :], mask=h_ok[:, None] & c_ok[None, :],
                other=0.0)
    qpe = tl.load(qpe_ptr + b * stride_pb + heads[:, None] * stride_ph + rs[None, :],
                  mask=h_ok[:, None] & r_ok[None, :], other=0.0)
    seq_len = tl.load(len_ptr + b)
    scale = tl.load(scale_ptr)
    run_max = tl.full((BLOCK_H,), float("-inf"), ACC)
    run_sum = tl.zeros((BLOCK_H,), ACC)
    acc = tl.zeros((BLOCK_H, BLOCK_C), ACC)
    for t0 in range(0, num_keys, BLOCK_T):
        slots = t0 + tl.arange(0, BLOCK_T).to(tl.int64)
        if HAS_INDEX:
            keys = tl.load(idx_ptr + b * stride_ib + slots, mask=slots < num_keys, other=-1)
        else:
            keys = slots
        k_ok = (keys >= 0) & (keys < seq_len) & (keys < max_len)
        kv = tl.load(kv_ptr + b * stride_kvb + keys[:, None] * stride_kvt + cs[None, :],
                     mask=k_ok[:, None] & c_ok[None, :], other=0.0)
        pe = tl.load(pe_ptr + b * stride_peb + keys[:, None] * stride_pet + rs[None, :],
                     mask=k_ok[:, None] & r_ok[None, :], other=0.0)
        scores = tl.dot(q, tl.trans(kv), input_precision=PRECISION)
        scores += tl.dot(qpe, tl.trans(pe), input_precision=PRECISION)
        scores = tl.where(k_ok[None, :], scores * scale, float("-inf"))
        new_max = tl.maximum(run_max, tl.max(scores, axis=1))
        safe_max = tl.where(new_max == float("-inf"), 0.0, new_max)
        alpha = tl.exp(run_max - safe_max)
        p = tl.exp(scores - safe_max[:, None])
        run_sum = run_sum * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(kv.dtype), kv, input_precision=PRECISION)
        run_max = new_max
    has_keys = run_sum > 0
    out = tl.where(has_keys[:, None], acc / tl.where(has_keys, run_sum, 1.0)[:, None], 0.0)
    o_ptrs = out_ptr + (b * num_heads + heads[:, None]) * latent_dim + cs[None, :]
    tl.store(o_ptrs, out, mask=h_ok[:, None] & c_ok[None, :])
    lse = tl.where(has_keys, run_max + tl.log(run_sum), float("-inf"))
    tl.store(lse_ptr + b * num_heads + heads, lse, mask=h_ok)


def _launch(q_latent, q_pe, kv_cache, pe_cache, seq_lens, scale, topk_indices):
    """Run the kernel; returns (out (B, H, C), lse (B, H)) in the accumulation dtype (fp32, fp64 for fp64 inputs)."""
    num_rows, num_heads, latent_dim = q_latent.shape
    rope_dim = q_pe.shape[2]
    max_len = kv_cache.shape[1]
    if kv_cache.stride(2) != 1 or pe_cache.stride(2) != 1 or q_latent.stride(2) != 1 or q_pe.stride(2) != 1:
        raise ValueError("the triton MLA kernel needs the last dimension of every input to be contiguous")
    acc, acc_tl = accumulation_dtype(q_latent.dtype)
    index = topk_indices.contiguous() if topk_indices is not None else seq_lens.new_empty(num_rows, 1)
    num_keys = index.shape[1] if topk_indices is not None else max_len
    out = torch.empty(num_rows, num_heads, latent_dim, dtype=acc, device=q_latent.device)
    lse = torch.empty(num_rows, num_heads, dtype=acc, device=q_latent.device)
    on_gpu = q_latent.device.type == "cuda"
    block_h = 64 if on_gpu else 16
    grid = (num_rows, triton.cdiv(num_heads, block_h))
    mla_decode_kernel[grid](
        q_latent, q_pe, kv_cache, pe_cache, seq_lens.contiguous(), index, out, lse,
        scalar_args(scale, dtype=acc, device=q_latent.device), num_heads, num_keys, latent_dim, rope_dim, max_len,
        q_latent.stride(0), q_latent.stride(1), q_pe.stride(0), q_pe.stride(1), kv_cache.stride(0),
        kv_cache.stride(1), pe_cache.stride(0), pe_cache.stride(1), index.stride(0),
        HAS_INDEX=topk_indices is not None, BLOCK_H=block_h, BLOCK_T=64 if on_gpu else 16,
        BLOCK_C=max(16, triton.next_power_of_2(latent_dim)), BLOCK_R=max(16, triton.next_power_of_2(rope_dim)),
        PRECISION=dot_precision(q_latent.dtype), ACC=acc_tl,
    )
    return out, lse


class TritonMLADecode(torch.autograd.Function):
    """Forward: the Triton kernel. Backward: ``mla.mla_decode_backward`` in torch, recomputing p from the saved lse.

    Why a torch backward: decode runs under no_grad in the rollout engine, so the backward is off the hot path; the
    recompute costs one (B, H, K) score block, the same memory as the cpu path's forward.
    """

    @staticmethod
    def forward(ctx, q_latent, q_pe, kv_cache, pe_cache, seq_lens, topk_indices, scale):
        out, lse = _launch(q_latent, q_pe, kv_cache, pe_cache, seq_lens, scale, topk_indices)
        ctx.save_for_backward(q_latent, q_pe, kv_cache, pe_cache, seq_lens, topk_indices, lse)
        ctx.scale = scale
        return out.to(q_latent.dtype), lse.to(q_latent.dtype)

    @staticmethod
    def backward(ctx, grad_out, grad_lse):
        q_latent, q_pe, kv_cache, pe_cache, seq_lens, topk_indices, lse = ctx.saved_tensors
        grads = mla_decode_backward(q_latent, q_pe, kv_cache, pe_cache, seq_lens, lse, grad_out, grad_lse,
                                    scale=ctx.scale, topk_indices=topk_indices)
        return *(g if need else None for g, need in zip(grads, ctx.needs_input_grad)), None, None, None


def mla_decode_triton(q_latent, q_pe, kv_cache, pe_cache, seq_lens, *, scale, topk_indices=None):
    """Same contract as ``ref.mla_decode_ref``, differentiable in q_latent, q_pe, kv_cache and pe_cache.

    ``topk_indices`` rows must hold distinct ids, as on the cpu path (a repeated id would count that key twice).
    """
    return TritonMLADecode.apply(q_latent, q_pe, kv_cache, pe_cache, seq_lens, topk_indices, float(scale))
