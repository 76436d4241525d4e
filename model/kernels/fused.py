"""CPU path of linear → logprob → GRPO loss in one pass: gradients are formed during forward, chunk by chunk.

The separate logprob Function needs four GEMMs per chunk (logits, logits again in backward, dh, dW). When the loss is
known at forward time, as here, the gradient of the loss w.r.t. each chunk's logprobs is available as soon as the
chunk's logprobs are, so dh and dW are formed right away and backward only scales them: three GEMMs (Liger's
fused-linear pattern). Chunks hold whole sequences, so GSPO ratios and the off-policy mask stay chunk-local.
"""

from __future__ import annotations

import torch

from .grpo import TokenLossKernel, grpo_loss
from .grpo_config import GRPOLossConfig
from .support import support_mask_chunk


def _chunk_loss_scale(config: GRPOLossConfig, mask_chunk, total_tokens, seqs_in_chunk, num_seqs) -> float:
    """Factor turning a chunk's own aggregated loss into its share of the batch-level loss."""
    if config.aggregation == "token_mean":
        return float(mask_chunk.sum()) / max(total_tokens, 1.0)
    return seqs_in_chunk / num_seqs


class LinearGRPOLoss(torch.autograd.Function):
    """``GRPO(log_softmax(h Wᵀ/τ)[targets])`` with dh and dW accumulated (fp32) during forward.

    Inputs hidden (B, T, H), weight (V, H), targets (B, T); the loss inputs as in ``grpo.grpo_loss``.
    Outputs the scalar loss, plus (non-differentiable) logprobs (B, T) and entropies (B, T) for the metrics.
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, support, temperature, seqs_per_chunk, old_logprobs, advantages,
                loss_mask, ref_logprobs, beta, config, token_loss):
        num_seqs, seq_len, _ = hidden.shape
        vocab_size = weight.shape[0]
        dtype = torch.promote_types(hidden.dtype, torch.float32)
        weight_c = weight.to(dtype)
        need_hidden, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        device = hidden.device
        grad_hidden = torch.empty(hidden.shape, dtype=dtype, device=device) if need_hidden else None
        grad_weight = torch.zeros(weight.shape, dtype=dtype, device=device) if need_weight else None
        logprobs = torch.empty(num_seqs, seq_len, dtype=dtype, device=device)
        entropy = torch.empty(num_seqs, seq_len, dtype=dtype, device=device)
        total_tokens = float(loss_mask.sum())
        rows_per_chunk = seqs_per_chunk * seq_len
        block = torch.empty(min(rows_per_chunk, num_seqs * seq_len), vocab_size, dtype=dtype, device=device)
        scratch = torch.empty_like(block)
        loss = torch.zeros((), dtype=dtype, device=device)
        flat_hidden, flat_targets = hidden.reshape(-1, hidden.shape[-1]), targets.reshape(-1)
        for first in range(0, num_seqs, seqs_per_chunk):
            last = min(first + seqs_per_chunk, num_seqs)
            rows = slice(first * seq_len, last * seq_len)
            h = flat_hidden[rows].to(dtype)
            z = torch.mm(h / temperature, weight_c.t(), out=block[: (last - first) * seq_len])
            inside = None
            if support is not None:
                inside = support_mask_chunk(support.reshape(-1, support.shape[-1])[rows], vocab_size)
                z.masked_fill_(~inside, float("-inf"))
            tgt = flat_targets[rows, None]
            target_logit = z.gather(1, tgt).squeeze(1)
            row_max = z.amax(dim=1)
            z.sub_(row_max[:, None])
            shifted = scratch[: z.shape[0]].copy_(z)
            if inside is not None:
                shifted.masked_fill_(~inside, 0.0)
            total = z.exp_().sum(dim=1)
            weighted = torch.bmm(z.unsqueeze(1), shifted.unsqueeze(2)).view(-1)
            entropy[first:last] = (torch.log(total) - weighted / total).view(last - first, seq_len)
            lp = (target_logit - row_max - torch.log(total)).view(last - first, seq_len).detach()
            logprobs[first:last] = lp
            lp.requires_grad_()
            with torch.enable_grad():
                part = grpo_loss(
                    lp, old_logprobs[first:last], advantages[first:last], loss_mask[first:last], config=config,
                    token_loss=token_loss, ref_logprobs=None if ref_logprobs is None else ref_logprobs[first:last],
                    beta=None if beta is None else beta[first:last],
                ).loss * _chunk_loss_scale(config, loss_mask[first:last], total_tokens, last - first, num_seqs)
                (grad_lp,) = torch.autograd.grad(part, lp)
            loss += part.detach()
            if not (need_hidden or need_weight):
                continue
            g = grad_lp.reshape(-1, 1).to(dtype) / temperature
            z.div_(total[:, None]).mul_(g.neg())  # -g·p
            z.scatter_add_(1, tgt, g)  # + g·onehot(target)
            if need_hidden:
                torch.mm(z, weight_c, out=grad_hidden.view(-1, hidden.shape[-1])[rows])
            if need_weight:
                grad_weight.addmm_(z.t(), h)
        ctx.save_for_backward(*(t for t in (grad_hidden, grad_weight) if t is not None))
        ctx.has_grads = (need_hidden, need_weight)
        ctx.dtypes = (hidden.dtype, weight.dtype)
        ctx.mark_non_differentiable(logprobs, entropy)
        return loss, logprobs, entropy

    @staticmethod
    def backward(ctx, grad_loss, _grad_logprobs, _grad_entropy):
        saved = list(ctx.saved_tensors)
        grads = []
        for needed, dtype in zip(ctx.has_grads, ctx.dtypes):
            grad = saved.pop(0) if needed else None
            if grad is not None:  # a unit upstream gradient (the usual loss.backward()) needs no copy of dW
                grad = (grad if bool(grad_loss == 1) else grad * grad_loss).to(dtype)
            grads.append(grad)
        return (*grads,) + (None,) * 11
