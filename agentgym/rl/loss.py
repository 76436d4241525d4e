"""The policy loss of one minibatch: the kernels' GRPO loss over the batch's replayed logprobs."""

from __future__ import annotations

import torch

from agentgym.rl.sequences import Batch


def minibatch_loss(logprobs: torch.Tensor, batch: Batch, *, config, ref_logprobs: torch.Tensor | None = None,
                   kernel_path: str | None = None, entropy: torch.Tensor | None = None):
    """`GRPOLossOutput` for `batch` given π_θ logprobs (B, T).

    π_old is the recorded sampling logprob; where none was recorded (tool-output tokens trained with
    `mask_tool_outputs=False`) the current logprob, detached, stands in (ratio 1). The per-sequence β of each env
    weights the unbiased KL; with no reference logprobs there is no KL term. Per-token advantages (turn-level
    credit, `Batch.token_advantages`) replace the per-sequence ones when the batch has them. `entropy` (B, T), when
    given, is only averaged over the trained tokens into `metrics["entropy"]`.
    """
    from agentgym.model.kernels import grpo_loss

    old = torch.where(torch.isnan(batch.old_logprobs), logprobs.detach(), batch.old_logprobs)
    advantages = batch.token_advantages if batch.token_advantages is not None else batch.advantages
    return grpo_loss(logprobs, old, advantages, batch.trained, config=config, ref_logprobs=ref_logprobs,
                     beta=batch.betas if ref_logprobs is not None else None, entropy=entropy, path=kernel_path)
