"""Answer agents: independent attempts at a candidate question; a pair is kept only if every one of them is wrong.

Procedural baselines of different strength stand in when no LLM is configured:

- `first_hit_title`: searches the names in the question and answers with the first hit's title (popularity guess);
- `snippet_guess`: answers with the first new identifier in the first hit's snippet (reads one snippet, no page);
- `one_hop`: looks the named entity up and reads the asked fact from it, or from the one document it links to by
  ``Module:`` (a solver that stops after one hop, so a question it answers is too shallow).

`PolicyAnswerer` plays any chat `Policy` (an LLM with its own settings) on the candidate task through the env, with
the env's tools, and reports what it submitted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

from agentgym.synth.search.session import ToolSession, first_parameter, list_value

from agentgym.api import Task
from agentgym.registry import make
from agentgym.rollout import Policy, run_episode

GIVE_UP = "I could not find it"
_NAMES = re.compile(r"`([^`]+)`")
_IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]{2,}\b")
_ASKED = [("parameter", "Signature"), ("method is listed", "Methods"), ("function is listed", "Functions"),
          ("class is listed", "Classes")]


class AnswerAgent(Protocol):
    """Anything that proposes an answer to a candidate task."""

    name: str

    async def answer(self, task: Task) -> str: ...


class FirstHitTitle:
    name = "first_hit_title"

    def __init__(self, session: ToolSession) -> None:
        self.session = session

    async def answer(self, task: Task) -> str:
        hits = await self.session.search(" ".join(_NAMES.findall(task.prompt)) or task.prompt, k=5)
        return hits[0].title if hits else GIVE_UP


class SnippetGuess:
    name = "snippet_guess"

    def __init__(self, session: ToolSession) -> None:
        self.session = session

    async def answer(self, task: Task) -> str:
        hits = await self.session.search(" ".join(_NAMES.findall(task.prompt)) or task.prompt, k=5)
        asked = set(re.findall(r"\w+", task.prompt.lower()))
        for word in _IDENTIFIER.findall(hits[0].snippet if hits else ""):
            if word.lower() not in asked:
                return word
        return GIVE_UP


class OneHop:
    name = "one_hop"

    def __init__(self, session: ToolSession) -> None:
        self.session = session

    async def answer(self, task: Task) -> str:
        names = _NAMES.findall(task.prompt)
        label = next((lab for phrase, lab in _ASKED if phrase in task.prompt), None)
        if not names or label is None:
            return GIVE_UP
        hits = await self.session.search(names[0], k=10)
        doc = next((h.id for h in hits if h.id.rpartition(".")[2] == names[0]), None)
        for _ in range(2):  # the entity itself, then the one document its Module line names
            if doc is None:
                return GIVE_UP
            value = await self.session.label(doc, label)
            found = first_parameter(value) if label == "Signature" else next(iter(list_value(value)), None)
            if found:
                return found
            doc = await self.session.label(doc, "Module")
        return GIVE_UP


class PolicyAnswerer:
    """Plays `policy` on the task in a fresh search env (`max_turns` turns) and returns its submitted answer."""

    def __init__(self, name: str, policy: Policy, *, env_kwargs: dict[str, Any] | None = None,
                 max_turns: int = 12) -> None:
        self.name = name
        self.policy = policy
        self.env_kwargs = dict(env_kwargs or {})
        self.max_turns = max_turns

    async def answer(self, task: Task) -> str:
        env = make("search", **self.env_kwargs)
        try:
            trajectory = await run_episode(env, self.policy, task, max_turns=self.max_turns)
        finally:
            await env.close()
        return submitted_answer(trajectory.messages) or GIVE_UP


def submitted_answer(messages: Sequence[Any]) -> str | None:
    """The answer argument of the last `submit` call in a conversation."""
    for message in reversed(messages):
        for call in reversed(getattr(message, "tool_calls", []) or []):
            if call.name == "submit" and isinstance(call.arguments, dict):
                return str(call.arguments.get("answer", ""))
    return None


def baseline_answerers(session: ToolSession) -> list[AnswerAgent]:
    """The procedural answer agents, weakest first."""
    return [FirstHitTitle(session), SnippetGuess(session), OneHop(session)]
