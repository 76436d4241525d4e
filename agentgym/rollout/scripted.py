"""`ScriptedPolicy`: a policy from a fixed list of actions or a plain function; used by tests, checks and quickstart."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Sequence

from agentgym.api import Action, Message, ToolSpec
from agentgym.rollout.policy import PolicyStep

ScriptFn = Callable[[Sequence[Message], Sequence[ToolSpec]], Any]


class ScriptedPolicy:
    """Plays `script`: a list of actions/strings replayed per episode, or a (possibly async) function of the messages.

    A list script restarts at the first item whenever the conversation is new (only system/user messages).
    """

    def __init__(self, script: Sequence[Action | str] | ScriptFn) -> None:
        self.script = script

    async def act(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> PolicyStep:
        if callable(self.script):
            out = self.script(messages, tools)
            if inspect.isawaitable(out):
                out = await out
        else:
            index = sum(1 for m in messages if m.role == "assistant")
            out = self.script[index] if index < len(self.script) else Action(text="")
        action = out if isinstance(out, Action) else Action(text=str(out))
        return PolicyStep(action=action)
