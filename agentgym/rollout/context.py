"""Context handling of the agent loop (DeepSeek-V3.2 "thinking in tool use").

Two rules decide which messages the policy sees next (the trajectory keeps the full log):

1. Reasoning is kept across tool calls: while only tool results (and the env's feedback inside a round) follow an
   assistant turn, its `reasoning` stays in the history. When a new user message arrives, the reasoning of every
   assistant turn before it is dropped.
2. When the context passes `threshold` (80 %) of `window_tokens`, a strategy frees it:
   - `discard-75%`: drop the oldest 75 % of the tool-call rounds (at least one), keeping system + task;
   - `discard-all`: drop every tool-call round, keeping system + task;
   - `summary`: replace every round with one user message summarizing them. The policy itself writes the summary
     (the history plus `summary_prompt`); when it raises, cannot take the prompt, or returns only whitespace, a
     deterministic summary listing each call and a clipped result is used instead. Which one was used is recorded.
   - `none`: nothing is freed; a full window ends the episode as truncated.

A tool-call round is one assistant message and the messages that follow it up to the next assistant message.
Rewriting the history is not a truncation: with `EnginePolicy` the next turn records its whole re-rendered prompt
(starting with `bos_id`) and opens a new training segment. A window that is still full after the strategy (or that
no strategy may free) is a truncation, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agentgym.api import Message, ToolSpec
from agentgym.rollout.policy import Policy

Strategy = Literal["none", "summary", "discard-75%", "discard-all"]
STRATEGIES: tuple[str, ...] = ("none", "summary", "discard-75%", "discard-all")
TokenCounter = Callable[[Sequence[Message], Sequence[ToolSpec]], int]

DEFAULT_SUMMARY_PROMPT = (
    "The context is almost full. Summarize the work so far: which tools you called, what they returned that still "
    "matters, and what is left to do. Write only the summary."
)
SUMMARY_HEADER = "Summary of the earlier tool calls (their messages were removed to free the context):"
FALLBACK_HEADER = "Summary of the earlier tool calls (written without the model; results clipped):"
DISCARD_FRACTION = 0.75


@dataclass(kw_only=True, slots=True)
class ContextConfig:
    """How the agent loop manages the conversation it shows the policy.

    Attributes:
        strategy: "none", "summary", "discard-75%" or "discard-all" (see the module docstring).
        window_tokens: the context window in tokens; None turns the window rules off (the reasoning rule still
            applies). Required by every strategy but "none".
        threshold: the fraction of the window past which the strategy applies (V3.2: 0.8).
        drop_reasoning_on_user: drop earlier reasoning when a new user message arrives (False: keep all reasoning).
        token_counter: (messages, tools) -> prompt tokens, e.g. `tokenizer_counter(tokenizer)`; None uses the
            policy's reported prompt + completion tokens of the previous turn (no count before the first turn, nor
            right after a rewrite).
        summary_prompt: the user message that asks the policy for the summary.
        fallback_chars: characters of each call / result kept in the deterministic fallback summary.
    """

    strategy: Strategy = "none"
    window_tokens: int | None = None
    threshold: float = 0.8
    drop_reasoning_on_user: bool = True
    token_counter: TokenCounter | None = field(default=None, repr=False, compare=False)
    summary_prompt: str = DEFAULT_SUMMARY_PROMPT
    fallback_chars: int = 200

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"ContextConfig.strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}")
        if self.window_tokens is not None and self.window_tokens < 1:
            raise ValueError(f"ContextConfig.window_tokens must be >= 1 or None, got {self.window_tokens}")
        if self.strategy != "none" and self.window_tokens is None:
            raise ValueError(f"ContextConfig.strategy {self.strategy!r} needs window_tokens")
        if not 0 < self.threshold <= 1:
            raise ValueError(f"ContextConfig.threshold must be in (0, 1], got {self.threshold}")
        if self.fallback_chars < 1:
            raise ValueError(f"ContextConfig.fallback_chars must be >= 1, got {self.fallback_chars}")


def tokenizer_counter(tokenizer: Any) -> TokenCounter:
    """A counter that renders the messages (with the generation prompt) with `tokenizer.encode_chat`, as
    `EnginePolicy` does, so the count is the exact next prompt length."""
    from agentgym.rollout.engine_policy import message_to_chat

    def count(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> int:
        chat = [message_to_chat(m) for m in messages]
        return len(tokenizer.encode_chat(chat, [t.to_openai() for t in tools] or None, add_generation_prompt=True))

    return count


# the rules, as pure functions on message lists
def drop_reasoning(messages: Sequence[Message]) -> tuple[list[Message], int]:
    """(messages, how many reasonings were dropped): assistant turns before the last user message lose `reasoning`."""
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    out, dropped = [], 0
    for i, m in enumerate(messages):
        if i < last_user and m.role == "assistant" and m.reasoning is not None:
            m = m.model_copy(update={"reasoning": None})
            dropped += 1
        out.append(m)
    return out, dropped


def split_rounds(messages: Sequence[Message]) -> tuple[list[Message], list[Message], list[list[Message]]]:
    """(head, carry, rounds): head = leading system messages + the first user message (the task); carry = messages
    after the head before the first assistant turn (e.g. an earlier summary); rounds = tool-call rounds, oldest first."""
    first_user = next((i for i, m in enumerate(messages) if m.role == "user"), None)
    head_end = first_user + 1 if first_user is not None else next(
        (i for i, m in enumerate(messages) if m.role != "system"), len(messages))
    head, rest = list(messages[:head_end]), list(messages[head_end:])
    first_assistant = next((i for i, m in enumerate(rest) if m.role == "assistant"), len(rest))
    carry, rounds = rest[:first_assistant], []
    for m in rest[first_assistant:]:
        if m.role == "assistant" or not rounds:
            rounds.append([])
        rounds[-1].append(m)
    return head, carry, rounds


def num_rounds_to_drop(strategy: str, num_rounds: int) -> int:
    """discard-all and summary: every round; discard-75%: floor(0.75 · n), at least one."""
    if num_rounds == 0 or strategy == "none":
        return 0
    if strategy == "discard-75%":
        return max(1, math.floor(DISCARD_FRACTION * num_rounds))
    return num_rounds


def discard_rounds(messages: Sequence[Message], strategy: str) -> tuple[list[Message], int]:
    """(messages with the oldest rounds dropped, how many rounds were dropped) for discard-75% / discard-all."""
    head, carry, rounds = split_rounds(messages)
    n = num_rounds_to_drop(strategy, len(rounds))
    return head + carry + [m for r in rounds[n:] for m in r], n


def fallback_summary(messages: Sequence[Message], *, max_chars: int = 200) -> str:
    """A deterministic summary of messages: one line per call, reply, result or note, each clipped to `max_chars`
    (a clipped line says how many characters it lost)."""
    lines = [FALLBACK_HEADER]
    for m in messages:
        if m.role == "assistant":
            for c in m.tool_calls:
                lines.append(f"- called {c.name}({_clip(c.arguments_json(), max_chars)})")
            if m.content.strip():
                lines.append(f"- assistant: {_clip(m.content.strip(), max_chars)}")
        elif m.role == "tool":
            lines.append(f"- result{f' of {m.name}' if m.name else ''}: {_clip(m.content.strip(), max_chars)}")
        else:
            lines.append(f"- {m.role}: {_clip(m.content.strip(), max_chars)}")
    return "\n".join(lines)


def _clip(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= max_chars else f"{text[:max_chars]}… [+{len(text) - max_chars} chars]"


# the per-episode state
class ContextManager:
    """Applies a `ContextConfig` to one episode and records what it did.

    Call `observe(step)` after every policy turn and `await prepare(view)` before the next one; `info()` is what the
    loop stores in `Trajectory.info["context"]`.
    """

    def __init__(self, config: ContextConfig, policy: Policy, tools: Sequence[ToolSpec]) -> None:
        self.config = config
        self.policy = policy
        self.tools = list(tools)
        self.num_turns = 0
        self.num_reasoning_dropped = 0
        self.applied: dict[str, int] = {}
        self.events: list[dict[str, Any]] = []
        self._reported: int | None = None
        self.is_rewritten = False

    def observe(self, num_prompt_tokens: int, num_completion_tokens: int) -> None:
        self.num_turns += 1
        total = num_prompt_tokens + num_completion_tokens
        self._reported = total or None

    def count(self, messages: Sequence[Message]) -> int | None:
        if self.config.token_counter is not None:
            return self.config.token_counter(messages, self.tools)
        return self._reported

    async def prepare(self, view: list[Message]) -> tuple[list[Message], str | None]:
        """(the messages the policy sees next, a truncation reason or None). `is_rewritten` says whether older
        messages changed (reasoning dropped or rounds removed)."""
        self.is_rewritten = False
        if self.config.drop_reasoning_on_user:
            view, dropped = drop_reasoning(view)
            self.num_reasoning_dropped += dropped
            self.is_rewritten = dropped > 0
        window = self.config.window_tokens
        used = self.count(view) if window is not None else None
        if window is None or used is None or used < self.config.threshold * window:
            return view, None
        strategy = self.config.strategy
        head, carry, rounds = split_rounds(view)
        if strategy == "none" or not rounds:
            if used >= window:
                why = "strategy 'none'" if strategy == "none" else f"no tool-call round left for {strategy!r} to free"
                return view, f"context window full: {used} of {window} tokens used and {why}"
            return view, None
        event: dict[str, Any] = {"turn": self.num_turns + 1, "strategy": strategy, "tokens_before": used,
                                 "messages_before": len(view), "rounds_before": len(rounds)}
        if strategy == "summary":
            text, source, tokens = await self._summary(view, carry + [m for r in rounds for m in r])
            view = head + [Message(role="user", content=f"{SUMMARY_HEADER}\n{text}")]
            event.update(rounds_dropped=len(rounds), summary_source=source, summary=text, summary_tokens=tokens)
        else:
            view, dropped = discard_rounds(view, strategy)
            event["rounds_dropped"] = dropped
        self.applied[strategy] = self.applied.get(strategy, 0) + 1
        self._reported = None
        self.is_rewritten = True
        after = self.count(view)
        event.update(messages_after=len(view), tokens_after=after)
        self.events.append(event)
        if after is not None and after >= window:
            return view, f"context window full: {after} of {window} tokens used after {strategy!r}"
        return view, None

    async def _summary(self, view: list[Message], dropped: list[Message]) -> tuple[str, str, int]:
        """(summary text, "policy" or "fallback: why", prompt + completion tokens the summary call used). The call is
        not a training turn: it is recorded only in the context events."""
        prompt = [*view, Message(role="user", content=self.config.summary_prompt)]
        tokens = 0
        try:
            step = await self.policy.act(prompt, self.tools)
        except Exception as e:  # noqa: BLE001 - a failed summary falls back, it does not end the episode
            why = f"policy raised {type(e).__name__}: {e}"
        else:
            text = step.action.text.strip()
            tokens = step.num_prompt_tokens + step.num_completion_tokens
            if text:
                return text, "policy", tokens
            why = "policy returned no text"
        return fallback_summary(dropped, max_chars=self.config.fallback_chars), f"fallback: {why}", tokens

    def info(self) -> dict[str, Any]:
        return {"strategy": self.config.strategy, "window_tokens": self.config.window_tokens,
                "threshold": self.config.threshold, "applied": dict(self.applied),
                "num_reasoning_dropped": self.num_reasoning_dropped, "events": self.events}


__all__ = ["ContextConfig", "ContextManager", "discard_rounds", "drop_reasoning", "fallback_summary",
           "split_rounds", "tokenizer_counter"]
