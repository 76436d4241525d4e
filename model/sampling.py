"""Sampling with temperature/top-k/top-p, the recorded sampling mask, and the trainer-side masked logprob."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from agentgym.model.sampling_params import SamplingParams

# top-p looks for the nucleus among the best 64, then 1024 tokens, and sorts the whole vocabulary only when the
# nucleus is wider (exact either way, much cheaper for peaked distributions: topk(64) of SmolLM2's 49152 logits
# costs 1/6 of topk(1024)). Vocabularies of at most 1024 tokens are always sorted whole.
NUCLEUS_CANDIDATES = (64, 1024)


@dataclass(slots=True)
class SamplingMask:
    """The top-k/top-p support of every sampled position of one completion, stored as ragged token-id lists.

    We store the support's token ids (CSR: `offsets` (T+1,) and `token_ids` (nnz,) int32) rather than a
    threshold logit or a count, because the trainer's logits differ from the engine's by rounding: a
    threshold or a count would move tokens at the border in or out, while the ids fix the exact set the token
    was sampled from (DeepSeek-V3.2's Keep Sampling Mask). When nothing truncates (`is_full`), nothing is stored.

    Attributes:
        offsets: (T+1,) int64; position t's support is token_ids[offsets[t]:offsets[t+1]].
        token_ids: (nnz,) int32, each position's ids ordered by decreasing probability.
        is_full: True when every position's support is the whole vocabulary (no ids stored).
    """

    offsets: torch.Tensor
    token_ids: torch.Tensor
    is_full: bool = False

    @classmethod
    def full(cls, num_positions: int) -> SamplingMask:
        return cls(torch.zeros(num_positions + 1, dtype=torch.int64), torch.zeros(0, dtype=torch.int32), True)

    @classmethod
    def from_lists(cls, supports: list[torch.Tensor]) -> SamplingMask:
        sizes = torch.tensor([len(s) for s in supports], dtype=torch.int64)
        offsets = torch.cat([torch.zeros(1, dtype=torch.int64), sizes.cumsum(0)])
        ids = torch.cat(supports).to(torch.int32) if supports else torch.zeros(0, dtype=torch.int32)
        return cls(offsets, ids)

    @property
    def num_positions(self) -> int:
        return self.offsets.numel() - 1

    def support(self, position: int) -> torch.Tensor:
        return self.token_ids[self.offsets[position]:self.offsets[position + 1]]

    def dense(self, vocab_size: int) -> torch.Tensor:
        """(T, V) bool, True on each position's support."""
        t = self.num_positions
        if self.is_full:
            return torch.ones(t, vocab_size, dtype=torch.bool)
        rows = torch.repeat_interleave(torch.arange(t), self.offsets.diff())
        out = torch.zeros(t, vocab_size, dtype=torch.bool)
        out[rows, self.token_ids.long()] = True
        return out


def masked_logprobs(logits: torch.Tensor, tokens: torch.Tensor, mask: SamplingMask | None,
                    temperature: float = 1.0) -> torch.Tensor:
    """Trainer side: log pi(token) renormalized over the recorded support, at the sampling temperature.

    Args:
        logits: (T, V) raw logits at the positions that produced `tokens` (row t predicts tokens[t]).
        tokens: (T,) sampled ids.
        mask: the completion's SamplingMask (None: full vocabulary).
        temperature: the sampling temperature (0 is treated as greedy: logprob 0 on the support).
    Returns:
        (T,) fp32 logprobs, differentiable w.r.t. logits.
    """
    scaled = logits.float() / (temperature if temperature > 0 else 1.0)
    if mask is not None and not mask.is_full:
        scaled = scaled.masked_fill(~mask.dense(logits.shape[-1]).to(logits.device), float("-inf"))
    return F.log_softmax(scaled, dim=-1).gather(-1, tokens.view(-1, 1).long()).squeeze(-1)


@dataclass(slots=True)
class SampleOutput:
    """One sampling step for B rows: ids (B,), logprobs (B,), and each row's support (None when untruncated)."""

    tokens: torch.Tensor
    logprobs: torch.Tensor
    supports: list[torch.Tensor] | None = field(default=None)


def _nucleus(probs: torch.Tensor, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(sorted probs, sorted ids) covering every row's top-p nucleus (fewer than V columns when possible)."""
    if probs.shape[-1] > NUCLEUS_CANDIDATES[-1]:
        for k in NUCLEUS_CANDIDATES:
            vals, ids = probs.topk(k, dim=-1)
            if bool((vals.sum(dim=-1) >= top_p).all()):
                return vals, ids
    return probs.sort(dim=-1, descending=True)


def sample(logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None = None) -> SampleOutput:
    """Sample one token per row of (B, V) logits under `params`, returning logprobs under the sampling distribution.

    The distribution is softmax(logits / T) restricted to the top-k tokens, then to the smallest prefix (by
    decreasing probability) whose mass reaches top_p, renormalized. Its support is recorded per row.
    """
    logits = logits.float()
    b = logits.shape[0]
    if params.temperature == 0:
        tokens = logits.argmax(dim=-1)
        return SampleOutput(tokens, torch.zeros(b), [t.view(1) for t in tokens])
    scaled = logits / params.temperature
    if not params.is_truncating:
        logp = F.log_softmax(scaled, dim=-1)
        tokens = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(-1)
        return SampleOutput(tokens, logp.gather(-1, tokens[:, None]).squeeze(-1), None)
    if params.top_k:
        vals, ids = scaled.topk(min(params.top_k, scaled.shape[-1]), dim=-1)
        probs = F.softmax(vals, dim=-1)
    else:
        probs, ids = _nucleus(F.softmax(scaled, dim=-1), params.top_p)
    keep = torch.ones_like(probs, dtype=torch.bool)
    if params.top_p < 1:
        before = probs.cumsum(dim=-1) - probs
        keep = before < params.top_p
        keep[:, 0] = True
    kept_logits = scaled.gather(-1, ids).masked_fill(~keep, float("-inf"))
    logp = F.log_softmax(kept_logits, dim=-1)
    choice = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(-1)
    tokens = ids.gather(-1, choice[:, None]).squeeze(-1)
    counts = keep.sum(dim=-1).tolist()
    supports = [ids[i, :c] for i, c in enumerate(counts)]
    return SampleOutput(tokens, logp.gather(-1, choice[:, None]).squeeze(-1), supports)
