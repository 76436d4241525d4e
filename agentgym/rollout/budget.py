"""Token budgets of an episode, and how a cut is recorded: nothing is clipped without a trace.

Two budgets bound an episode:

- per turn: the policy's `max_new_tokens` (`EnginePolicyConfig`, `SamplingSection`). A reply cut by it has
  `Turn.finish_reason == "length"`; a reply cut because the model's window filled up has `"window"`.
- per trajectory: `BudgetConfig.max_episode_tokens`, the tokens of the whole episode (prompts, completions and the
  observations rendered into later prompts).

A cut trajectory gets `truncated=True` and a `truncation_reason` naming the budget and the numbers; the trainer then
zeroes, keeps or drops its reward (`agentgym.rl.truncation`).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentgym.api import Turn
from agentgym.rollout.policy import PolicyStep


@dataclass(kw_only=True, slots=True)
class BudgetConfig:
    """Per-episode token budgets.

    Attributes:
        max_episode_tokens: tokens one episode may use (prompt + every completion + observations); the loop stops
            the episode, truncated, after the turn that passes it (that turn's action is not executed). None: no cap.
        stop_on_turn_cut: end the episode, truncated, when a reply is cut by the per-turn budget (`max_new_tokens`)
            instead of passing the cut reply to the env (the default; the turn is flagged either way).
    """

    max_episode_tokens: int | None = None
    stop_on_turn_cut: bool = False

    def __post_init__(self) -> None:
        if self.max_episode_tokens is not None and self.max_episode_tokens < 1:
            raise ValueError(f"BudgetConfig.max_episode_tokens must be >= 1 or None, got {self.max_episode_tokens}")


class ContextWindowFull(Exception):
    """A policy cannot take the prompt: it does not fit the model's window. The loop records a truncation."""

    def __init__(self, num_tokens: int, window: int) -> None:
        super().__init__(f"prompt of {num_tokens} tokens does not fit the context window of {window} tokens")
        self.num_tokens = num_tokens
        self.window = window


class TokenLedger:
    """Counts the tokens an episode used so far.

    A turn with token records adds its `prompt_ids` (only the new tokens when it continues the previous turn, the whole
    prompt after a rewrite) and its `completion_ids`. A turn without records (HTTP policies) adds the growth of the
    reported prompt + completion since the previous turn, or all of it after a rewrite (`rewritten()`).
    """

    def __init__(self) -> None:
        self.num_tokens = 0
        self._last_context = 0

    def add(self, step: PolicyStep) -> int:
        """Count one turn; returns the new total."""
        turn = step.turn
        context = step.num_prompt_tokens + step.num_completion_tokens
        if turn.prompt_ids is not None or turn.completion_ids is not None:
            self.num_tokens += len(turn.prompt_ids or []) + len(turn.completion_ids or [])
        else:
            self.num_tokens += max(0, context - self._last_context)
        self._last_context = context
        return self.num_tokens

    def rewritten(self) -> None:
        """The history was rewritten: the next prompt counts in full."""
        self._last_context = 0


def turn_cut_reason(turn: Turn, turn_index: int) -> str | None:
    """Why the reply of turn `turn_index` (0-based) was cut, or None when it ended by itself."""
    n = len(turn.completion_ids or [])
    if turn.finish_reason == "length":
        return f"turn {turn_index + 1} reply hit the per-turn budget (max_new_tokens) after {n} tokens"
    if turn.finish_reason == "window":
        return f"turn {turn_index + 1} reply was cut after {n} tokens: the model's context window is full"
    return None
