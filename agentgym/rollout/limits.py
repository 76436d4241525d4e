"""The agent loop's hooks for context handling and token budgets, kept out of `loop.py` so the loop stays readable.

`EpisodeLimits` owns the view of the conversation the policy sees (the trajectory keeps the full log), applies the
`ContextConfig` before each turn, counts tokens against the `BudgetConfig` after it, and marks a cut trajectory
`truncated` with a reason that names the budget and the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentgym.api import Message, ToolSpec, Trajectory
from agentgym.rollout.budget import BudgetConfig, TokenLedger, turn_cut_reason
from agentgym.rollout.context import ContextConfig, ContextManager
from agentgym.rollout.policy import Policy, PolicyStep


class EpisodeLimits:
    """Context handling and budgets of one episode.

    With neither config the policy sees the trajectory's own message list, and only a reply cut by a full model
    window ends the episode (truncated) — it is never passed on as if complete.
    """

    def __init__(self, policy: Policy, tools: Sequence[ToolSpec], messages: list[Message], *,
                 context: ContextConfig | None = None, budget: BudgetConfig | None = None) -> None:
        self.context = ContextManager(context, policy, tools) if context is not None else None
        self.budget = budget
        self.ledger = TokenLedger()
        self.view = list(messages) if self.context is not None else messages
        self.num_turns_cut = 0

    async def before_act(self, trajectory: Trajectory) -> list[Message] | None:
        """The messages for the next turn, or None when the episode ends here (the trajectory is marked)."""
        if self.context is None:
            return self.view
        self.view, reason = await self.context.prepare(self.view)
        if self.context.is_rewritten:
            self.ledger.rewritten()
        if reason is not None:
            truncate(trajectory, reason)
            return None
        return self.view

    def after_act(self, trajectory: Trajectory, step: PolicyStep, message: Message) -> bool:
        """Record the turn; True when the episode must stop before the env executes the action (marked truncated)."""
        if self.view is not trajectory.messages:
            self.view.append(message)
        if self.context is not None:
            self.context.observe(step.num_prompt_tokens, step.num_completion_tokens)
        turn_index = len(trajectory.turns) - 1
        used = self.ledger.add(step)
        cut = turn_cut_reason(step.turn, turn_index)
        if cut is not None:
            self.num_turns_cut += 1
        if step.turn.finish_reason == "window":
            return truncate(trajectory, cut)
        if cut is not None and self.budget is not None and self.budget.stop_on_turn_cut:
            return truncate(trajectory, cut)
        limit = self.budget.max_episode_tokens if self.budget is not None else None
        if limit is not None and used > limit:
            return truncate(trajectory, f"per-trajectory budget of {limit} tokens exceeded: {used} tokens used "
                                        f"(prompt + completions + observations) after turn {turn_index + 1}")
        return False

    def observed(self, messages: Sequence[Message]) -> None:
        """The env's new messages (the trajectory already has them)."""
        if self.context is not None:
            self.view.extend(messages)

    def finish(self, trajectory: Trajectory) -> None:
        if self.context is not None:
            trajectory.info["context"] = self.context.info()
        if self.budget is not None or self.context is not None or self.num_turns_cut:
            trajectory.info["tokens"] = {"num_episode_tokens": self.ledger.num_tokens,
                                         "num_turns_cut": self.num_turns_cut}


def truncate(trajectory: Trajectory, reason: str) -> bool:
    """Mark `trajectory` cut by a budget or a full window (not by the env); returns True for the caller's `break`."""
    trajectory.truncated = True
    trajectory.truncation_reason = reason
    return True
