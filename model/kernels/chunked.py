"""CPU path of linear→logprob: an autograd Function that never holds more than one (chunk, V) logits block."""

from __future__ import annotations

import torch

from .support import support_mask_chunk

TARGET_CHUNK_ELEMENTS = 1 << 24
"""Rows per chunk are chosen so one fp32 (rows, V) block is about 64 MiB: big enough for fast GEMMs, small vs N·V."""


def default_chunk_rows(vocab_size: int) -> int:
    """Rows per chunk for a vocabulary of ``vocab_size``: about 16M logits per block, at least 1 row."""
    return max(1, TARGET_CHUNK_ELEMENTS // vocab_size)


class ChunkedLinearLogprob(torch.autograd.Function):
    """``logprob[n] = log_softmax(h_n Wᵀ / τ)[target_n]`` (optionally renormalized over a support) and its entropy.

    Forward keeps, per row, only the log-partition ``lse``; backward recomputes each chunk's logits from h and W,
    so memory is O(chunk·V + V·H) instead of O(N·V). The weight gradient is accumulated in fp32 (fp64 for fp64 inputs).
    Gradient of the chunk logits z (after the 1/τ scale), with p = softmax(z), H the entropy:
    ``∂logprob/∂z = onehot(target) - p`` and ``∂H/∂z = -p ⊙ (log p + H)``.
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, support, temperature, chunk_rows, with_entropy):
        num_rows, vocab_size = hidden.shape[0], weight.shape[0]
        dtype = torch.promote_types(hidden.dtype, torch.float32)
        weight_c = weight.to(dtype)
        lse = torch.empty(num_rows, dtype=dtype, device=hidden.device)
        logprob = torch.empty(num_rows, dtype=dtype, device=hidden.device)
        entropy = torch.empty(num_rows if with_entropy else 0, dtype=dtype, device=hidden.device)
        block = torch.empty(min(chunk_rows, num_rows), vocab_size, dtype=dtype, device=hidden.device)
        scratch = torch.empty_like(block) if with_entropy else None  # reused: no fresh pages per chunk
        for start in range(0, num_rows, chunk_rows):
            end = min(start + chunk_rows, num_rows)
            z = torch.mm(hidden[start:end].to(dtype) / temperature, weight_c.t(), out=block[: end - start])
            inside = None
            if support is not None:
                inside = support_mask_chunk(support[start:end], vocab_size)
                z.masked_fill_(~inside, float("-inf"))
            target_logit = z.gather(1, targets[start:end, None]).squeeze(1)
            row_max = z.amax(dim=1)
            z.sub_(row_max[:, None])
            if with_entropy:
                shifted = scratch[: end - start].copy_(z)
                if inside is not None:
                    shifted.masked_fill_(~inside, 0.0)
                z.exp_()
                total = z.sum(dim=1)
                # H = log s - Σ e·(z - m) / s, with e = exp(z - m) and s = Σ e.
                weighted = torch.bmm(z.unsqueeze(1), shifted.unsqueeze(2)).view(-1)
                entropy[start:end] = torch.log(total) - weighted / total
            else:
                total = z.exp_().sum(dim=1)
            lse[start:end] = row_max + torch.log(total)
            logprob[start:end] = target_logit - lse[start:end]
        ctx.save_for_backward(hidden, weight, targets, lse, entropy, *(() if support is None else (support,)))
        ctx.temperature, ctx.chunk_rows, ctx.has_support = temperature, chunk_rows, support is not None
        if not with_entropy:
            ctx.mark_non_differentiable(entropy)
        return logprob, entropy

    @staticmethod
    def backward(ctx, grad_logprob, grad_entropy):
        hidden, weight, targets, lse, entropy, *rest = ctx.saved_tensors
        support = rest[0] if ctx.has_support else None
        need_hidden, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        num_rows, vocab_size = hidden.shape[0], weight.shape[0]
        dtype = lse.dtype
        weight_c = weight.to(dtype)
        use_entropy = grad_entropy is not None and entropy.numel() > 0 and bool(grad_entropy.ne(0).any())
        grad_hidden = torch.empty(hidden.shape, dtype=dtype, device=hidden.device) if need_hidden else None
        grad_weight = torch.zeros(weight.shape, dtype=dtype, device=weight.device) if need_weight else None
        g_lp = (grad_logprob.to(dtype) if grad_logprob is not None else lse.new_zeros(num_rows)) / ctx.temperature
        g_ent = grad_entropy.to(dtype) / ctx.temperature if use_entropy else None
        block = torch.empty(min(ctx.chunk_rows, num_rows), vocab_size, dtype=dtype, device=hidden.device)
        probs = torch.empty_like(block) if use_entropy else None
        for start in range(0, num_rows, ctx.chunk_rows):
            end = min(start + ctx.chunk_rows, num_rows)
            h = hidden[start:end].to(dtype)
            grad_z = torch.mm(h / ctx.temperature, weight_c.t(), out=block[: end - start])
            inside = None
            if support is not None:
                inside = support_mask_chunk(support[start:end], vocab_size)
                grad_z.masked_fill_(~inside, float("-inf"))
            grad_z.sub_(lse[start:end, None])  # log p
            rows_g = g_lp[start:end, None]
            if use_entropy:
                p = torch.exp(grad_z, out=probs[: end - start])
                if inside is not None:
                    grad_z.masked_fill_(~inside, 0.0)
                # -p·(g_lp + g_ent·(log p + H))
                grad_z.add_(entropy[start:end, None]).mul_(g_ent[start:end, None]).add_(rows_g).mul_(p).neg_()
            else:
                grad_z.exp_().mul_(rows_g.neg())
            grad_z.scatter_add_(1, targets[start:end, None], rows_g)
            if need_hidden:
                torch.mm(grad_z, weight_c, out=grad_hidden[start:end])
            if need_weight:
                grad_weight.addmm_(grad_z.t(), h)
        grad_hidden = grad_hidden.to(hidden.dtype) if need_hidden else None
        grad_weight = grad_weight.to(weight.dtype) if need_weight else None
        return grad_hidden, grad_weight, None, None, None, None, None
