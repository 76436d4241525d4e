"""Triton path of the per-token GRPO loss: surrogate + KL and both gradients in one elementwise pass."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .common import accumulation_dtype, int64_rows, scalar_args


@triton.jit
def grpo_token_loss_kernel(
    lr_ptr, lp_ptr, old_ptr, ref_ptr, adv_ptr, keep_ptr, beta_ptr, w_ptr, loss_ptr, dlr_ptr, dlp_ptr, bounds_ptr,
    num_tokens, seq_len, HAS_REF: tl.constexpr, ADV_PER_TOKEN: tl.constexpr, BLOCK: tl.constexpr,
):
    """Per token: loss = w·(-min(rA, clip(r, lo, hi)A)·keep + β·(π_θ/π_old)(π_ref/π_θ - log(π_ref/π_θ) - 1)).

    ``bounds_ptr`` holds (lo, hi) = (1 - clip_low, 1 + clip_high) in the loss dtype. ``ADV_PER_TOKEN``: the
    advantages are (B, T) (one per token) instead of (B,).

    d loss/d log r = -w·A·r·keep where the unclipped branch is the minimum, else 0;
    d KL/d logπ_θ = (π_θ/π_old)(logπ_θ - logπ_ref).
    """
    offs = int64_rows(tl.program_id(0), BLOCK)
    ok = offs < num_tokens
    seq = offs // seq_len
    log_ratio = tl.load(lr_ptr + offs, mask=ok, other=0.0)
    weight = tl.load(w_ptr + offs, mask=ok, other=0.0)
    if ADV_PER_TOKEN:
        adv = tl.load(adv_ptr + offs, mask=ok, other=0.0)
    else:
        adv = tl.load(adv_ptr + seq, mask=ok, other=0.0)
    keep = tl.load(keep_ptr + seq, mask=ok, other=0.0)
    lower = tl.load(bounds_ptr)
    upper = tl.load(bounds_ptr + 1)
    ratio = tl.exp(log_ratio)
    unclipped = ratio * adv
    clipped = tl.minimum(tl.maximum(ratio, lower), upper) * adv
    loss = -tl.minimum(unclipped, clipped) * keep
    tl.store(dlr_ptr + offs, tl.where(unclipped <= clipped, -adv * ratio, 0.0) * keep * weight, mask=ok)
    if HAS_REF:
        lp = tl.load(lp_ptr + offs, mask=ok, other=0.0)
        old = tl.load(old_ptr + offs, mask=ok, other=0.0)
        ref = tl.load(ref_ptr + offs, mask=ok, other=0.0)
        beta = tl.load(beta_ptr + seq, mask=ok, other=0.0)
        token_ratio = tl.exp(lp - old)
        diff = ref - lp
        loss += beta * token_ratio * (tl.exp(diff) - diff - 1.0)
        tl.store(dlp_ptr + offs, beta * token_ratio * (lp - ref) * weight, mask=ok)
    tl.store(loss_ptr + offs, loss * weight, mask=ok)


class TritonTokenLoss(torch.autograd.Function):
    """Weighted per-token loss; the gradients are formed in forward and scaled by the upstream gradient."""

    @staticmethod
    def forward(ctx, log_ratio, logprobs, old_logprobs, ref_logprobs, advantages, keep, betas, weights, clip_low,
                clip_high):
        num_seqs, seq_len = logprobs.shape
        dtype, _ = accumulation_dtype(logprobs.dtype)
        inputs = [t.detach().to(dtype).contiguous() for t in (log_ratio, logprobs, old_logprobs)]
        ref = ref_logprobs.to(dtype).contiguous() if ref_logprobs is not None else inputs[2]
        per_seq = [t.to(dtype).contiguous() for t in (advantages, keep, betas)]
        loss, d_lr, d_lp = (torch.zeros(num_seqs, seq_len, dtype=dtype, device=logprobs.device) for _ in range(3))
        bounds = scalar_args(1.0 - clip_low, 1.0 + clip_high, dtype=dtype, device=logprobs.device)
        block = 256
        grpo_token_loss_kernel[(triton.cdiv(loss.numel(), block),)](
            *inputs, ref, *per_seq, weights.to(dtype).contiguous(), loss, d_lr, d_lp, bounds, loss.numel(), seq_len,
            HAS_REF=ref_logprobs is not None, ADV_PER_TOKEN=advantages.dim() == 2, BLOCK=block,
        )
        ctx.save_for_backward(d_lr, d_lp)
        return loss.to(logprobs.dtype)

    @staticmethod
    def backward(ctx, grad):
        d_lr, d_lp = ctx.saved_tensors
        return (grad * d_lr).to(grad.dtype), (grad * d_lp).to(grad.dtype), *([None] * 8)


def token_loss_triton(log_ratio, logprobs, old_logprobs, ref_logprobs, advantages, keep, betas, weights, clip_low,
                      clip_high):
    """Same contract as ``grpo.token_loss_torch``; called only through the dispatcher."""
    return TritonTokenLoss.apply(log_ratio, logprobs, old_logprobs, ref_logprobs, advantages, keep, betas, weights,
                                 clip_low, clip_high)
