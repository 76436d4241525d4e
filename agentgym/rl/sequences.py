"""Trajectories -> training sequences: the tokens the model saw, which positions are trained, and what to replay.

A trajectory's turns are concatenated into segments (see `agentgym.rollout.engine_policy`): a turn whose `prompt_ids`
start with the tokenizer's `bos_id` opens a new segment; otherwise its prompt tokens (tool outputs, templates) extend
the previous one. Position p of a segment predicts token p + 1; it is trained iff token p + 1 is a sampled completion
token with loss_mask 1, so prompt and tool-output tokens never enter the loss unless `mask_tool_outputs=False`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from agentgym.api import Trajectory, Turn

PAD_SUPPORT = -1


@dataclass(slots=True)
class Segment:
    """One training sequence.

    Attributes:
        tokens: the ids fed to the model (L,).
        trained: per target position (L − 1,), 1 where the target is trained.
        old_logprobs: per target position, the sampling logprob (NaN where none was recorded).
        supports: per target position, the recorded top-k/top-p support ids, or None (full vocabulary).
        experts: (L, n_moe_layers, k) recorded expert ids, or None (dense model or nothing recorded).
        advantage, beta, env: the sequence's advantage, KL coefficient and env name.
        advantages: per target position, the advantage of the turn the target belongs to (turn-level credit, see
            `agentgym.rl.credit`), or None when every position has `advantage`.
        policy_version: the oldest policy version among its turns (None when no turn recorded one).
    """

    tokens: list[int]
    trained: list[int]
    old_logprobs: list[float]
    supports: list[list[int] | None]
    experts: list | None = None
    advantage: float = 0.0
    beta: float = 0.0
    env: str = ""
    completion_positions: list[int] = field(default_factory=list)
    advantages: list[float] | None = None
    policy_version: int | None = None


def _supports_of(turn: Turn) -> list[list[int] | None]:
    n = len(turn.completion_ids or [])
    mask = turn.sampling_mask
    if not mask:
        return [None] * n
    offsets, ids = mask["offsets"], mask["token_ids"]
    return [list(ids[offsets[t]:offsets[t + 1]]) for t in range(n)]


def trajectory_segments(trajectory: Trajectory, *, bos_id: int, advantage: float = 0.0, beta: float = 0.0,
                        mask_tool_outputs: bool = True, turn_advantages: list[float] | None = None) -> list[Segment]:
    """The segments of one trajectory (empty when it has no token records).

    With `turn_advantages` (one per turn), every target of turn k (its prompt and completion tokens) gets
    turn_advantages[k] in `Segment.advantages`, and `Segment.advantage` is their mean over the trained positions.
    """
    segments: list[Segment] = []
    current: Segment | None = None
    for k, turn in enumerate(trajectory.turns):
        prompt, completion = list(turn.prompt_ids or []), list(turn.completion_ids or [])
        if not completion and not prompt:
            continue
        if current is None or (prompt and prompt[0] == bos_id):
            current = Segment(tokens=[], trained=[], old_logprobs=[], supports=[], advantage=advantage, beta=beta,
                              env=trajectory.env)
            segments.append(current)
            current.experts = None
            is_first = True
        else:
            is_first = False
        for tok in prompt:  # targets that are prompt / tool-output tokens
            if current.tokens:
                current.trained.append(0 if (mask_tool_outputs or is_first) else 1)
                current.old_logprobs.append(math.nan)
                current.supports.append(None)
            current.tokens.append(tok)
        loss_mask = turn.loss_mask or [1] * len(completion)
        for tok, lp, keep, support in zip(completion, turn.logprobs or [math.nan] * len(completion), loss_mask,
                                          _supports_of(turn)):
            current.completion_positions.append(len(current.trained))
            current.trained.append(int(keep))
            current.old_logprobs.append(float(lp))
            current.supports.append(support)
            current.tokens.append(tok)
        if turn_advantages is not None:
            current.advantages = current.advantages or []
            current.advantages += [float(turn_advantages[k])] * (len(current.trained) - len(current.advantages))
        if turn.policy_version is not None:
            current.policy_version = min(turn.policy_version, current.policy_version if current.policy_version
                                         is not None else turn.policy_version)
        if turn.routed_experts is not None:
            current.experts = turn.routed_experts  # the latest turn's record covers the whole segment so far
    segments = [s for s in segments if len(s.tokens) > 1]
    for s in segments:
        if s.advantages is not None:
            kept = [a for a, t in zip(s.advantages, s.trained) if t]
            s.advantage = sum(kept) / len(kept) if kept else 0.0
    return segments


@dataclass(slots=True)
class Batch:
    """Padded tensors for B segments of width T = max length − 1 (targets).

    tokens (B, T+1) int64; targets (B, T); trained (B, T) float; old_logprobs (B, T) (NaN where unrecorded);
    supports (B, T, K) int64 padded with −1 or None; experts (B, T+1, n_moe, k) int64 or None; advantages,
    betas (B,); token_advantages (B, T) float (0 on padding) when some segment has per-position `advantages`, else
    None (then `advantages` holds for every position); versions (B,) int64, each segment's policy version (−1: none).
    """

    tokens: torch.Tensor
    targets: torch.Tensor
    trained: torch.Tensor
    old_logprobs: torch.Tensor
    supports: torch.Tensor | None
    experts: torch.Tensor | None
    advantages: torch.Tensor
    betas: torch.Tensor
    envs: list[str]
    token_advantages: torch.Tensor | None = None
    versions: torch.Tensor | None = None


def collate(segments: list[Segment], *, pad_id: int, num_moe_layers: int = 0, top_k: int = 0) -> Batch:
    """Right-pad segments into a `Batch`.

    Supports are kept only when every trained position recorded one; padded and untrained positions then get the
    target itself as their support (their logprob is 0 and never used).
    """
    if not segments:
        raise ValueError("collate: no segments")
    width = max(len(s.tokens) for s in segments)
    b = len(segments)
    tokens = torch.full((b, width), pad_id, dtype=torch.int64)
    trained = torch.zeros(b, width - 1)
    old = torch.full((b, width - 1), math.nan)
    for i, s in enumerate(segments):
        tokens[i, : len(s.tokens)] = torch.tensor(s.tokens)
        trained[i, : len(s.trained)] = torch.tensor(s.trained, dtype=torch.float32)
        old[i, : len(s.old_logprobs)] = torch.tensor(s.old_logprobs, dtype=torch.float32)
    targets = tokens[:, 1:].clone()
    supports = None
    recorded = [sup is not None for s in segments for p, sup in enumerate(s.supports) if s.trained[p]]
    if recorded and all(recorded):  # a trained position sampled from the full vocabulary has no support to keep
        k = max(len(sup) for s in segments for sup in s.supports if sup is not None)
        supports = torch.full((b, width - 1, k), PAD_SUPPORT, dtype=torch.int64)
        supports[:, :, 0] = targets
        for i, s in enumerate(segments):
            for p, sup in enumerate(s.supports):
                if sup is not None:
                    supports[i, p, : len(sup)] = torch.tensor(sup)
                    supports[i, p, len(sup):] = PAD_SUPPORT
    experts = None
    if num_moe_layers and any(s.experts is not None for s in segments):
        experts = torch.arange(top_k).expand(b, width, num_moe_layers, top_k).clone()
        for i, s in enumerate(segments):
            if s.experts is not None:
                rec = torch.tensor(s.experts, dtype=torch.int64)[:width]
                experts[i, : rec.shape[0]] = rec
    token_advantages = None
    if any(s.advantages is not None for s in segments):
        token_advantages = torch.zeros(b, width - 1)
        for i, s in enumerate(segments):
            per_position = s.advantages if s.advantages is not None else [s.advantage] * len(s.trained)
            token_advantages[i, : len(per_position)] = torch.tensor(per_position, dtype=torch.float32)
    return Batch(tokens=tokens, targets=targets, trained=trained, old_logprobs=old, supports=supports,
                 experts=experts, advantages=torch.tensor([s.advantage for s in segments], dtype=torch.float32),
                 betas=torch.tensor([s.beta for s in segments], dtype=torch.float32), envs=[s.env for s in segments],
                 token_advantages=token_advantages,
                 versions=torch.tensor([-1 if s.policy_version is None else s.policy_version for s in segments]))
