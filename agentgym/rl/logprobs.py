"""Per-token logprobs of a `Batch` under a model, replaying what the engine recorded (Keep Routing, Keep Sampling Mask)."""

from __future__ import annotations

import torch

from agentgym.rl.sequences import Batch


def batch_logprobs(model: torch.nn.Module, batch: Batch, *, temperature: float = 1.0, keep_routing: bool = True,
                   keep_sampling_mask: bool = True, kernel_path: str | None = None) -> torch.Tensor:
    """(B, T) log π(target_t); see `batch_logprobs_entropy`."""
    return batch_logprobs_entropy(model, batch, temperature=temperature, keep_routing=keep_routing,
                                  keep_sampling_mask=keep_sampling_mask, kernel_path=kernel_path,
                                  with_entropy=False)[0]


def batch_logprobs_entropy(model: torch.nn.Module, batch: Batch, *, temperature: float = 1.0,
                           keep_routing: bool = True, keep_sampling_mask: bool = True,
                           kernel_path: str | None = None,
                           with_entropy: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(B, T) log π(target_t) at the sampling temperature, renormalized over the recorded support when kept
    (0 at untrained positions, which are not computed), and with `with_entropy` the (B, T) entropy of that same
    distribution at each trained position (detached, 0 elsewhere; a metric, never a gradient path).

    Keep Routing feeds the recorded expert ids to every MoE layer (`forced_experts`), so the trained network is the
    one that sampled. Keep Sampling Mask restricts the softmax to each position's recorded top-k/top-p support, so
    π_θ and π_old are distributions over the same tokens. The logits are never materialized: the chunked
    `linear_logprob` kernel works from the final hidden states.
    """
    from agentgym.model.kernels import linear_logprob

    forced = batch.experts if keep_routing else None
    out = model(batch.tokens, forced_experts=forced, compute_logits=False)
    hidden = model.norm(out.hidden[:, :-1])
    weight = model.output_weight
    b, t = batch.targets.shape
    rows = (batch.trained.reshape(-1) > 0).nonzero().squeeze(-1)  # only trained targets need the vocab projection
    support = None
    if keep_sampling_mask and batch.supports is not None:
        support = batch.supports.reshape(b * t, -1)[rows]
    picked, entropy = linear_logprob(hidden.reshape(b * t, -1)[rows], weight, batch.targets.reshape(-1)[rows],
                                     temperature=temperature if temperature > 0 else 1.0, support=support,
                                     with_entropy=with_entropy, path=kernel_path)
    logprobs = torch.zeros(b * t, dtype=picked.dtype).index_put((rows,), picked).view(b, t)
    if entropy is None:
        return logprobs, None
    return logprobs, torch.zeros(b * t, dtype=entropy.dtype).index_put((rows,), entropy.detach()).view(b, t)
