"""Policies for evaluation: the `reference[:P]` oracle form, and a wrapper that keeps the policy's token counts.

`reference` replays the env's own `reference_action` (the oracle), so `agentgym eval` can be tested end to end
without a model; `reference:0.6` solves each episode with probability 0.6 and otherwise submits the reference answer
mutated (numbers + 1, strings with " (wrong)" appended), which gives pass@k curves with something to show.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Sequence

from agentgym.api import Action, Message, Task, ToolSpec
from agentgym.checker import mutate_action
from agentgym.errors import PolicySpecError
from agentgym.rollout import Policy, PolicyStep

REFERENCE_FORM = "'reference' or 'reference:P' (the env's reference_action, right with probability P; tests and demos)"


class ReferencePolicy:
    """Plays `env.reference_action(task)` on the first turn of each episode, right with probability `p_correct`.

    The task is found by the conversation's first user message, which must equal one task's prompt. Whether an
    episode is solved is drawn from `Random(f"{seed}|{task.id}|{attempt}")`, where `attempt` counts the episodes of
    that task seen so far: the number of solved samples per task does not depend on how episodes interleave.
    After the first turn it sends empty text (an episode the reference did not end runs out its turn budget).
    """

    def __init__(self, env: Any, tasks: Sequence[Task], *, p_correct: float = 1.0, seed: int = 0) -> None:
        if not callable(getattr(env, "reference_action", None)):
            raise PolicySpecError(
                f"policy 'reference' needs an env with a reference_action(task) hook; env "
                f"{getattr(env, 'name', type(env).__name__)!r} has none"
            )
        if not 0.0 <= p_correct <= 1.0:
            raise PolicySpecError(f"reference policy: P must be in [0, 1], got {p_correct!r}")
        self.env = env
        self.p_correct = p_correct
        self.seed = seed
        self.tasks_by_prompt = {t.prompt: t for t in tasks}
        self.num_attempts: Counter[str] = Counter()

    async def act(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> PolicyStep:
        if any(m.role == "assistant" for m in messages):
            return PolicyStep(action=Action(text=""))
        prompt = next((m.content for m in messages if m.role == "user"), "")
        task = self.tasks_by_prompt.get(prompt)
        if task is None:
            raise LookupError("reference policy: the conversation's user message matches no task prompt")
        attempt = self.num_attempts[task.id]
        self.num_attempts[task.id] += 1
        action = self.env.reference_action(task)
        if random.Random(f"{self.seed}|{task.id}|{attempt}").random() >= self.p_correct:
            action = mutate_action(action)
        return PolicyStep(action=action)


def resolve_policy(spec: str, *, env: Any, tasks: Sequence[Task], seed: int = 0) -> Policy:
    """The policy named by `spec` for one env: `reference[:P]` here, anything else through `rollout.specs`."""
    kind, sep, rest = spec.partition(":")
    if kind == "reference":
        p_correct = 1.0
        if sep:
            try:
                p_correct = float(rest)
            except ValueError:
                raise PolicySpecError(f"cannot parse policy {spec!r}; expected {REFERENCE_FORM}") from None
        return ReferencePolicy(env, tasks, p_correct=p_correct, seed=seed)
    from agentgym.rollout.specs import POLICY_FORMS, make_policy

    try:
        return make_policy(spec)
    except PolicySpecError as e:
        if str(e).startswith("unknown policy"):
            raise PolicySpecError(f"unknown policy {spec!r}; expected {POLICY_FORMS}, or {REFERENCE_FORM}") from None
        raise
