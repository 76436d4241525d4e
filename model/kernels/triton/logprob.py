"""Triton path of linear→logprob(+entropy): row blocks × vocabulary tiles, online logsumexp, recompute in backward."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .common import accumulation_dtype, dot_precision, int64_rows, scalar_args


@triton.jit
def _logits_tile(h_ptr, w_ptr, rows, row_ok, cols, col_ok, H, stride_h, stride_w, inv_temp,
                 BLOCK_N: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_H: tl.constexpr, PRECISION: tl.constexpr,
                 ACC: tl.constexpr):
    """(BLOCK_N, BLOCK_V) tile of h Wᵀ / τ, accumulated over H in ACC (fp32, or fp64 for fp64 inputs)."""
    acc = tl.zeros((BLOCK_N, BLOCK_V), dtype=ACC)
    for k0 in range(0, H, BLOCK_H):
        ks = k0 + tl.arange(0, BLOCK_H)
        k_ok = ks < H
        hb = tl.load(h_ptr + rows[:, None] * stride_h + ks[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        wb = tl.load(w_ptr + cols[:, None] * stride_w + ks[None, :], mask=col_ok[:, None] & k_ok[None, :], other=0.0)
        acc += tl.dot(hb, tl.trans(wb), input_precision=PRECISION)
    return acc * inv_temp


@triton.jit
def _support_tile(sup_ptr, rows, row_ok, cols, K, stride_s, BLOCK_N: tl.constexpr, BLOCK_V: tl.constexpr):
    """(BLOCK_N, BLOCK_V) bool: column id is in the row's padded support-id list."""
    inside = tl.zeros((BLOCK_N, BLOCK_V), dtype=tl.int1)
    for k in range(K):
        ids = tl.load(sup_ptr + rows * stride_s + k, mask=row_ok, other=-1)
        inside = inside | (ids[:, None] == cols[None, :])
    return inside


@triton.jit
def linear_logprob_fwd_kernel(
    h_ptr, w_ptr, tgt_ptr, sup_ptr, lse_ptr, lp_ptr, ent_ptr, inv_temp_ptr,
    N, V, H, K, stride_h, stride_w, stride_s,
    HAS_SUPPORT: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_H: tl.constexpr,
    PRECISION: tl.constexpr, ACC: tl.constexpr,
):
    rows = int64_rows(tl.program_id(0), BLOCK_N)
    row_ok = rows < N
    tgt = tl.load(tgt_ptr + rows, mask=row_ok, other=0)
    inv_temp = tl.load(inv_temp_ptr)
    run_max = tl.full((BLOCK_N,), float("-inf"), ACC)
    run_sum = tl.zeros((BLOCK_N,), ACC)
    run_dot = tl.zeros((BLOCK_N,), ACC)  # Σ e·z, for the entropy
    tgt_logit = tl.zeros((BLOCK_N,), ACC)
    for v0 in range(0, V, BLOCK_V):
        cols = v0 + tl.arange(0, BLOCK_V).to(tl.int64)
        col_ok = cols < V
        z = _logits_tile(h_ptr, w_ptr, rows, row_ok, cols, col_ok, H, stride_h, stride_w, inv_temp,
                         BLOCK_N, BLOCK_V, BLOCK_H, PRECISION, ACC)
        valid = col_ok[None, :] & row_ok[:, None]
        if HAS_SUPPORT:
            valid = valid & _support_tile(sup_ptr, rows, row_ok, cols, K, stride_s, BLOCK_N, BLOCK_V)
        z = tl.where(valid, z, float("-inf"))
        tgt_logit += tl.sum(tl.where(cols[None, :] == tgt[:, None], z, 0.0), axis=1)
        new_max = tl.maximum(run_max, tl.max(z, axis=1))
        safe_max = tl.where(new_max == float("-inf"), 0.0, new_max)
        alpha = tl.exp(run_max - safe_max)
        e = tl.exp(z - safe_max[:, None])
        run_sum = run_sum * alpha + tl.sum(e, axis=1)
        run_dot = run_dot * alpha + tl.sum(e * tl.where(valid, z, 0.0), axis=1)
        run_max = new_max
    lse = run_max + tl.log(tl.where(row_ok, run_sum, 1.0))  # rows past N: keep the padding finite
    tl.store(lse_ptr + rows, lse, mask=row_ok)
    tl.store(lp_ptr + rows, tgt_logit - lse, mask=row_ok)
    tl.store(ent_ptr + rows, lse - run_dot / tl.where(row_ok, run_sum, 1.0), mask=row_ok)


@triton.jit
def linear_logprob_bwd_kernel(
    h_ptr, w_ptr, tgt_ptr, sup_ptr, lse_ptr, ent_ptr, glp_ptr, gent_ptr, gh_ptr, gw_ptr, inv_temp_ptr,
    N, V, H, K, stride_h, stride_w, stride_s,
    HAS_SUPPORT: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_V: tl.constexpr, BLOCK_H: tl.constexpr,
    PRECISION: tl.constexpr, ACC: tl.constexpr,
):
    """dz = g_lp·(onehot - p) - g_ent·p·(log p + H), scaled by 1/τ; dh += dz W (own rows), dW += dzᵀ h (atomics)."""
    rows = int64_rows(tl.program_id(0), BLOCK_N)
    row_ok = rows < N
    tgt = tl.load(tgt_ptr + rows, mask=row_ok, other=0)
    lse = tl.load(lse_ptr + rows, mask=row_ok, other=0.0)
    ent = tl.load(ent_ptr + rows, mask=row_ok, other=0.0)
    g_lp = tl.load(glp_ptr + rows, mask=row_ok, other=0.0)
    g_ent = tl.load(gent_ptr + rows, mask=row_ok, other=0.0)
    inv_temp = tl.load(inv_temp_ptr)
    for v0 in range(0, V, BLOCK_V):
        cols = v0 + tl.arange(0, BLOCK_V).to(tl.int64)
        col_ok = cols < V
        z = _logits_tile(h_ptr, w_ptr, rows, row_ok, cols, col_ok, H, stride_h, stride_w, inv_temp,
                         BLOCK_N, BLOCK_V, BLOCK_H, PRECISION, ACC)
        valid = col_ok[None, :] & row_ok[:, None]
        if HAS_SUPPORT:
            valid = valid & _support_tile(sup_ptr, rows, row_ok, cols, K, stride_s, BLOCK_N, BLOCK_V)
        log_p = tl.where(valid, z - lse[:, None], 0.0)
        p = tl.where(valid, tl.exp(log_p), 0.0)
        onehot = tl.where(cols[None, :] == tgt[:, None], 1.0, 0.0)
        dz = g_lp[:, None] * (onehot - p) - g_ent[:, None] * p * (log_p + ent[:, None])
        dz = tl.where(valid, dz, 0.0) * inv_temp
        for k0 in range(0, H, BLOCK_H):
            ks = k0 + tl.arange(0, BLOCK_H)
            k_ok = ks < H
            wb = tl.load(w_ptr + cols[:, None] * stride_w + ks[None, :], mask=col_ok[:, None] & k_ok[None, :],
                         other=0.0).to(ACC)
            gh_ptrs = gh_ptr + rows[:, None] * H + ks[None, :]
            gh_mask = row_ok[:, None] & k_ok[None, :]
            gh = tl.load(gh_ptrs, mask=gh_mask, other=0.0) + tl.dot(dz, wb, input_precision=PRECISION)
            tl.store(gh_ptrs, gh, mask=gh_mask)
            hb = tl.load(h_ptr + rows[:, None] * stride_h + ks[None, :], mask=gh_mask, other=0.0).to(ACC)
            gw = tl.dot(tl.trans(dz), hb, input_precision=PRECISION)
            tl.atomic_add(gw_ptr + cols[:, None] * H + ks[None, :], gw, mask=col_ok[:, None] & k_ok[None, :])


def _blocks(device: torch.device) -> tuple[int, int, int]:
    """(BLOCK_N, BLOCK_V, BLOCK_H): minimal 16-wide tiles in the interpreter, GPU-sized tiles on CUDA."""
    return (16, 32, 16) if device.type != "cuda" else (64, 128, 64)


class TritonLinearLogprob(torch.autograd.Function):
    """Same contract as ``chunked.ChunkedLinearLogprob`` (support as padded ids); dW accumulates in fp32.

    fp64 inputs are computed, and their outputs returned, in fp64 throughout (for ``gradcheck``).
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, support, temperature, with_entropy):
        hidden, weight, targets = hidden.contiguous(), weight.contiguous(), targets.contiguous()
        num_rows, dim = hidden.shape
        vocab_size = weight.shape[0]
        acc, acc_tl = accumulation_dtype(hidden.dtype)
        sup = support.contiguous() if support is not None else targets.new_empty(1, 1)
        inv_temp = scalar_args(1.0 / temperature, dtype=acc, device=hidden.device)
        out = [torch.empty(num_rows, dtype=acc, device=hidden.device) for _ in range(3)]
        block_n, block_v, block_h = _blocks(hidden.device)
        grid = (triton.cdiv(num_rows, block_n),)
        linear_logprob_fwd_kernel[grid](
            hidden, weight, targets, sup, *out, inv_temp, num_rows, vocab_size, dim, sup.shape[1],
            hidden.stride(0), weight.stride(0), sup.stride(0), HAS_SUPPORT=support is not None, BLOCK_N=block_n,
            BLOCK_V=block_v, BLOCK_H=block_h, PRECISION=dot_precision(hidden.dtype), ACC=acc_tl,
        )
        lse, logprob, entropy = out
        ctx.save_for_backward(hidden, weight, targets, sup, lse, entropy, inv_temp)
        ctx.has_support = support is not None
        if not with_entropy:
            ctx.mark_non_differentiable(entropy)
        return logprob, entropy

    @staticmethod
    def backward(ctx, grad_logprob, grad_entropy):
        hidden, weight, targets, sup, lse, entropy, inv_temp = ctx.saved_tensors
        num_rows, dim = hidden.shape
        acc, acc_tl = accumulation_dtype(hidden.dtype)
        zeros = torch.zeros(num_rows, dtype=acc, device=hidden.device)
        g_lp = grad_logprob.to(acc).contiguous() if grad_logprob is not None else zeros
        g_ent = grad_entropy.to(acc).contiguous() if grad_entropy is not None else zeros
        grad_hidden = torch.zeros(num_rows, dim, dtype=acc, device=hidden.device)
        grad_weight = torch.zeros(weight.shape, dtype=acc, device=weight.device)
        block_n, block_v, block_h = _blocks(hidden.device)
        linear_logprob_bwd_kernel[(triton.cdiv(num_rows, block_n),)](
            hidden, weight, targets, sup, lse, entropy, g_lp, g_ent, grad_hidden, grad_weight, inv_temp,
            num_rows, weight.shape[0], dim, sup.shape[1], hidden.stride(0), weight.stride(0), sup.stride(0),
            HAS_SUPPORT=ctx.has_support, BLOCK_N=block_n, BLOCK_V=block_v, BLOCK_H=block_h,
            PRECISION=dot_precision(hidden.dtype), ACC=acc_tl,
        )
        return grad_hidden.to(hidden.dtype), grad_weight.to(weight.dtype), None, None, None, None


def linear_logprob_triton(hidden, weight, targets, *, temperature, support, with_entropy):
    """Wrapper called by the dispatcher: checks the preconditions, then runs the Function."""
    if hidden.device != weight.device or hidden.device != targets.device:
        raise ValueError("hidden, weight and targets must be on one device for the triton path")
    return TritonLinearLogprob.apply(hidden, weight, targets, support, temperature, with_entropy)
