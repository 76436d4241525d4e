"""`ToolSession`: drive the `search` env through its public tools, exactly as an agent would, and read the results.

The synthesis pipeline may not import the env's code (layering), so it makes the env through the registry, sends
`Action`s with `ToolCall`s, and parses the rendered text the agent would see (numbered hits, ``line N: ...`` matches).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from agentgym.api import Action, Env, Task, ToolCall
from agentgym.registry import make

EXPLORE_TASK = Task(id="synth-search-explore", env="search", prompt="Explore the corpus.", data={"answer": "-"})
MAX_SESSION_TURNS = 1_000_000
_HIT = re.compile(r'^(\d+)\. (.*)\n   id: ("(?:[^"\\]|\\.)*") \| offset \d+[^\n]*\n   (.*)$', re.MULTILINE)
_MATCH = re.compile(r"^line (\d+): (.*)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result as the agent sees it."""

    id: str
    title: str
    snippet: str


class ToolSession:
    """One long exploration episode on a `search` env; every call is a real `env.step` with one tool call.

    Args:
        env_kwargs: settings for ``agentgym.make("search", ...)`` (e.g. ``{"source": ..., "index_dir": ...}``).
        env: an already made env to drive instead (tests).

    Attributes:
        num_calls: tool calls made so far (the exploration cost).
    """

    def __init__(self, env_kwargs: dict[str, Any] | None = None, *, env: Env | None = None) -> None:
        self.env = env if env is not None else make("search", **{**(env_kwargs or {}), "max_turns": MAX_SESSION_TURNS})
        self.num_calls = 0
        self._is_open = False

    async def call(self, name: str, **arguments: Any) -> str:
        """Run one tool and return the text it shows the agent (an ``error: ...`` text for a bad call)."""
        if not self._is_open:
            await self.env.reset(EXPLORE_TASK)
            self._is_open = True
        self.num_calls += 1
        result = await self.env.step(Action(tool_calls=[ToolCall(id=f"x{self.num_calls}", name=name,
                                                                 arguments=arguments)]))
        if result.terminated or result.truncated:
            self._is_open = False
        return result.observation.messages[0].content if result.observation.messages else ""

    async def search(self, query: str, k: int = 10) -> list[Hit]:
        return parse_hits(await self.call("search", query=query, k=k))

    async def find(self, doc_id: str, pattern: str) -> list[str]:
        """The matching lines' text (without the ``line N:`` prefix); empty when none match or the id is unknown."""
        return [text for _, text in parse_matches(await self.call("find", doc_id=doc_id, pattern=pattern))]

    async def exists(self, doc_id: str) -> bool:
        return not (await self.call("open", doc_id=doc_id, offset=0)).startswith("error:")

    async def label(self, doc_id: str, label: str) -> str | None:
        """The value of the first ``Label: value`` header line of a document (None when it has none)."""
        for line in await self.find(doc_id, f"{label}:"):
            if line.startswith(f"{label}:"):
                return line[len(label) + 1:].strip()
        return None

    async def close(self) -> None:
        await self.env.close()


def parse_hits(text: str) -> list[Hit]:
    """The hits of a rendered `search` result, best first."""
    return [Hit(id=json.loads(m.group(3)), title=m.group(2), snippet=m.group(4)) for m in _HIT.finditer(text)]


def parse_matches(text: str) -> list[tuple[int, str]]:
    """(line number, text) of each line of a rendered `find` result."""
    if text.startswith(("error:", "no line")):
        return []
    return [(int(m.group(1)), m.group(2)) for m in _MATCH.finditer(text)]


def list_value(value: str | None) -> list[str]:
    """The names of a ``Functions: a, b, c`` style value; a clipped last name (``...``) is dropped."""
    if not value:
        return []
    names = [n.strip() for n in value.split(",") if n.strip()]
    if value.endswith("...") or (names and names[-1].startswith("...")):
        names = names[:-1]
    return [n for n in names if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]


def first_parameter(signature_line: str | None) -> str | None:
    """The first named parameter of a ``Signature: name(a, b=1)`` value; None for none, self/cls, or *args."""
    if not signature_line or "(" not in signature_line:
        return None
    inside = signature_line[signature_line.index("(") + 1:]
    first = re.split(r"[,)]", inside, maxsplit=1)[0]
    name = first.split(":")[0].split("=")[0].strip()
    return name if name.isidentifier() and name not in ("self", "cls") else None
