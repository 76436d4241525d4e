"""The trainer's context-handling and truncation sections (`context:` and `truncation:` of a train config).

See docs/context.md and docs/truncation.md. `build_limits` turns them into the rollout layer's `ContextConfig` and
`BudgetConfig`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentgym.rollout.budget import BudgetConfig
from agentgym.rollout.context import ContextConfig, tokenizer_counter


class ContextSection(BaseModel):
    """Context handling of every training episode (DeepSeek-V3.2 "thinking in tool use")."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    """Apply the rules below (False: the policy sees the whole history, as before)."""
    strategy: Literal["none", "summary", "discard-75%", "discard-all"] = "none"
    """What frees the context past `threshold` of the window; "none" ends the episode (truncated) when it is full."""
    window_tokens: int | None = Field(None, ge=1)
    """The window in tokens (None: `model.max_seq_len`, the engine's positions per row)."""
    threshold: float = Field(0.8, gt=0, le=1)
    """Fraction of the window past which the strategy applies."""
    drop_reasoning_on_user: bool = True
    """Drop earlier reasoning when a new user message arrives (it is always kept across tool calls)."""


class TruncationSection(BaseModel):
    """Token budgets and what happens to the reward of a truncated trajectory."""

    model_config = ConfigDict(extra="forbid")

    max_episode_tokens: int | None = Field(None, ge=1)
    """Per-trajectory budget: prompt + completions + observations of one episode (None: only the model's window).
    The per-turn budget is `sampling.max_new_tokens`."""
    stop_on_turn_cut: bool = False
    """End the episode (truncated) when a reply hits `sampling.max_new_tokens`, instead of passing the cut reply on."""
    on_truncated: Literal["keep", "zero", "drop"] = "keep"
    """Reward of a truncated trajectory: keep it, set it to 0, or drop the trajectory from its group."""
    min_group_size: int = Field(2, ge=1)
    """With `drop`: a group left with fewer episodes is dropped whole."""


def build_limits(context: ContextSection, truncation: TruncationSection, *, tokenizer: Any,
                 max_seq_len: int) -> tuple[ContextConfig | None, BudgetConfig | None]:
    """The rollout configs; the context window counts the exact next prompt with `tokenizer`."""
    ctx = None
    if context.enabled:
        ctx = ContextConfig(strategy=context.strategy, window_tokens=context.window_tokens or max_seq_len,
                            threshold=context.threshold, drop_reasoning_on_user=context.drop_reasoning_on_user,
                            token_counter=tokenizer_counter(tokenizer))
    budget = None
    if truncation.max_episode_tokens is not None or truncation.stop_on_turn_cut:
        budget = BudgetConfig(max_episode_tokens=truncation.max_episode_tokens,
                              stop_on_turn_cut=truncation.stop_on_turn_cut)
    return ctx, budget
