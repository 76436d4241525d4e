"""`OpenAIPolicy`: act through any OpenAI-compatible chat endpoint (vLLM server, llama.cpp server, hosted APIs)."""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

from agentgym.api import Action, Message, ToolCall, ToolSpec, Turn
from agentgym.errors import PolicySpecError, require
from agentgym.rollout.policy import PolicyStep

_SPEC_RE = re.compile(r"^openai:(?P<model>[^@]+)@(?P<url>https?://.+)$")


class OpenAIPolicy:
    """Calls `chat.completions.create` with the conversation and the tools.

    Tool calls come back parsed by the server (`message.tool_calls`); a server without tool support returns text, which
    the env parses (Hermes / DeepSeek formats). Arguments that are not valid JSON are passed on as the raw string, so the
    env can tell the agent what was wrong.

    Args:
        model: the served model name.
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        api_key: sent as the bearer token ("EMPTY" for local servers).
        temperature, top_p, max_tokens: sampling settings sent with every request.
        timeout_s: per-request timeout; max_retries: the client's retry count on connection errors.
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        api_key: str = "EMPTY",
        temperature: float = 1.0,
        top_p: float = 1.0,
        max_tokens: int = 1024,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        native_tools: bool = True,
    ) -> None:
        openai = require("openai", "openai", "OpenAIPolicy")
        self.model = model
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.native_tools = native_tools
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries)

    @classmethod
    def from_spec(cls, spec: str, **kwargs: Any) -> OpenAIPolicy:
        """Build from ``openai:MODEL@URL``, e.g. ``openai:smollm2@http://127.0.0.1:8000/v1``."""
        m = _SPEC_RE.match(spec.strip())
        if not m:
            raise PolicySpecError(
                f"cannot parse policy {spec!r}; expected 'openai:MODEL@URL', e.g. 'openai:my-model@http://127.0.0.1:8000/v1'"
            )
        return cls(model=m["model"], base_url=m["url"], **kwargs)

    async def act(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> PolicyStep:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages),
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
        }
        if tools and self.native_tools:
            request["tools"] = [t.to_openai() for t in tools]
        response = await self.client.chat.completions.create(**request)
        message = response.choices[0].message
        calls = [_to_tool_call(c) for c in (message.tool_calls or [])]
        reasoning = getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None)
        usage = response.usage
        finish = getattr(response.choices[0], "finish_reason", None)
        return PolicyStep(
            action=Action(text=message.content or "", tool_calls=calls, reasoning=reasoning),
            turn=Turn(finish_reason=finish if isinstance(finish, str) else None),  # "length": cut by max_tokens
            num_prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            num_completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        )


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The wire messages. A tool result whose call the server never saw (the env parsed it from text) becomes a user
    message, since the API rejects a `tool` message without a matching assistant `tool_calls` entry."""
    out: list[dict[str, Any]] = []
    known_ids: set[str] = set()
    for m in messages:
        if m.role == "assistant":
            known_ids.update(c.id for c in m.tool_calls if c.id)
        if m.role == "tool" and (m.tool_call_id is None or m.tool_call_id not in known_ids):
            out.append({"role": "user", "content": f"[{m.name or 'tool'} result] {m.content}"})
        else:
            out.append(m.to_openai())
    return out


def _to_tool_call(call: Any) -> ToolCall:
    raw = call.function.arguments or "{}"
    try:
        arguments: dict[str, Any] | str = json.loads(raw)
        if not isinstance(arguments, dict):
            arguments = raw
    except json.JSONDecodeError:
        arguments = raw
    return ToolCall(id=call.id or "", name=call.function.name or "", arguments=arguments)
