"""The `Policy` protocol: given the conversation and the tools, produce the next assistant action."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from agentgym.api import Action, Message, ToolSpec, Turn


class PolicyStep(BaseModel):
    """One policy decision: the action for the env, the assistant message to log, and the token record (if any)."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    turn: Turn = Field(default_factory=Turn)
    num_prompt_tokens: int = 0
    num_completion_tokens: int = 0


@runtime_checkable
class Policy(Protocol):
    """Anything that can act: a scripted function, an HTTP endpoint, the embedded engine.

    `act` gets the whole conversation so far and the env's tools, and returns the next step. It may raise only for
    infrastructure failures (endpoint down); the agent loop records those as `env_error`.
    """

    async def act(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> PolicyStep: ...
