"""`search`: answer questions by searching an offline index (or a search API), reading pages, and submitting.

Tools: `search(query, k)`, `open(doc_id, offset)`, `find(doc_id, pattern, regex)`, `submit(answer)`. The reward is the
SQuAD-normalized exact match against the task's accepted answers; token F1 is reported in `Verdict.components`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.api import Action, Task, ToolCall, Verdict
from agentgym.envs.search.backend import DocumentNotFound, SearchBackend
from agentgym.envs.search.documents import Document
from agentgym.envs.search.reward import score_answer
from agentgym.envs.search.views import (
    compile_pattern,
    render_hits,
    render_matches,
    render_page,
)
from agentgym.toolenv import ToolEnv, ToolError, tool
from agentgym.tools import ToolScript, tool_call

PYTHON_DOCS = "python-docs"


@dataclass(frozen=True, kw_only=True, slots=True)
class SearchEnvConfig:
    """Where the documents come from and how much each tool shows.

    Attributes:
        source: ``"python-docs"`` (built from this CPython on first use) or a folder of .txt/.md/.html files.
        index_dir: the index folder; built from `source` when missing. None: the per-user cache
            (``$AGENTGYM_CACHE`` or ``~/.cache/agentgym``, then ``search/python-docs-<version>``); a folder
            `source` needs an explicit `index_dir`.
        endpoint: base URL of a JSON search API (see `http_backend.py`); when set, tools use it instead of an index.
        api_key_env: environment variable holding the endpoint's bearer token.
        http_timeout_s: seconds to wait for the endpoint.
        page_chars: characters `open` shows per page.
        max_k: the largest `k` `search` accepts.
        max_find_matches: the most lines `find` lists.
        max_turns: steps before the episode is truncated.
        tool_format: how tool calls are parsed out of plain text ("auto", "hermes", "deepseek").
    """

    source: str = PYTHON_DOCS
    index_dir: str | None = None
    endpoint: str | None = None
    api_key_env: str = "AGENTGYM_SEARCH_API_KEY"
    http_timeout_s: float = 10.0
    page_chars: int = 2000
    max_k: int = 20
    max_find_matches: int = 20
    max_turns: int = 16
    tool_format: str = "auto"

    def __post_init__(self) -> None:
        for name in ("page_chars", "max_k", "max_find_matches", "max_turns"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.page_chars < 200:
            raise ValueError(f"page_chars must be >= 200, got {self.page_chars!r}")
        if not self.http_timeout_s > 0:
            raise ValueError(f"http_timeout_s must be > 0, got {self.http_timeout_s!r}")
        if self.source != PYTHON_DOCS and self.index_dir is None and self.endpoint is None:
            raise ValueError(f"source {self.source!r} is a folder: give index_dir, the folder to build its index in")


class SearchEnv(ToolEnv):
    """Search, read and answer. Reward 1 iff the submitted answer matches an accepted answer after normalization.

    Args:
        config: a `SearchEnvConfig`; keyword arguments override its fields (``SearchEnv(page_chars=1000)``).
        backend: any `SearchBackend` to use instead of the one `config` describes (tests, custom APIs).
    """

    name = "search"
    system_prompt = (
        "You answer questions by searching a document collection. Tools: `search(query, k)` lists matching documents "
        "with their ids; `open(doc_id, offset)` shows a page of a document; `find(doc_id, pattern)` lists the lines "
        "of a document that contain the pattern. Look the answer up, then call `submit(answer)` with a short answer "
        "copied from the documents."
    )

    def __init__(self, config: SearchEnvConfig | None = None, *, backend: SearchBackend | None = None,
                 **overrides: Any) -> None:
        config = dataclasses.replace(config or SearchEnvConfig(), **overrides)
        super().__init__(max_turns=config.max_turns, tool_format=config.tool_format)
        self.config = config
        self._backend = backend

    # --- the backend -------------------------------------------------------------------------------------------
    @property
    def backend(self) -> SearchBackend:
        """The backend the tools use, made on first use (building the default index if it does not exist yet)."""
        if self._backend is None:
            if self.config.endpoint is not None:
                from agentgym.envs.search.http_backend import HttpBackend

                self._backend = HttpBackend(self.config.endpoint, api_key_env=self.config.api_key_env,
                                            timeout_s=self.config.http_timeout_s)
            else:
                self._backend = self.local_index()
        return self._backend

    def local_index(self) -> Any:
        """The shared `LocalIndex` for `config` (the task generator needs one even when tools use an endpoint)."""
        from agentgym.envs.search.index_store import ensure_index
        from agentgym.envs.search.index import LocalIndex, open_index

        if isinstance(self._backend, LocalIndex):
            return self._backend
        path = Path(self.config.index_dir) if self.config.index_dir is not None else None
        return open_index(ensure_index(path, source=self.config.source))

    async def _call_backend(self, method: str, *args: Any) -> Any:
        from agentgym.envs.search.index import LocalIndex

        backend = self.backend
        if isinstance(backend, LocalIndex):  # in-memory and sub-millisecond: no thread hop
            return getattr(backend, method)(*args)
        return await asyncio.to_thread(getattr(backend, method), *args)

    async def _document(self, doc_id: str) -> Document:
        if not doc_id.strip():
            raise ToolError("doc_id is empty; use an id from the search results")
        try:
            return await self._call_backend("get", doc_id)
        except DocumentNotFound:
            raise ToolError(f"no document with id {doc_id!r}{self._did_you_mean(doc_id)}; use an id exactly as the "
                            f"search results print it (inside the quotes)") from None

    def _did_you_mean(self, doc_id: str) -> str:
        from agentgym.envs.search.index import LocalIndex

        if not isinstance(self.backend, LocalIndex):
            return ""
        close = difflib.get_close_matches(doc_id, [d.id for d in self.backend.documents], n=3, cutoff=0.8)
        return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""

    # --- tools -------------------------------------------------------------------------------------------------
    @tool("Search the documents. Returns ranked titles, ids and snippets.",
          query={"type": "string", "description": "words or names to look for, e.g. 'json dumps indent'"},
          k={"type": "integer", "description": "how many results (1 to 20; default 5)"})
    async def search(self, query: str, k: int = 5) -> str:
        if not query.strip():
            raise ToolError("query is empty; give words or names to search for")
        if isinstance(k, bool) or not 1 <= k <= self.config.max_k:
            raise ToolError(f"k must be between 1 and {self.config.max_k}, got {k!r}")
        return render_hits(query, await self._call_backend("search", query, k))

    @tool("Show one page of a document, starting at a character offset.",
          doc_id={"type": "string", "description": "a document id from the search results"},
          offset={"type": "integer", "description": "character offset to start at (default 0)"})
    async def open(self, doc_id: str, offset: int = 0) -> str:
        doc = await self._document(doc_id)
        return render_page(doc, offset, self.config.page_chars)

    @tool("List the lines of a document that contain a pattern (case-insensitive), with line numbers.",
          doc_id={"type": "string", "description": "a document id from the search results"},
          pattern={"type": "string", "description": "text to look for (a regular expression when regex is true)"},
          regex={"type": "boolean", "description": "treat pattern as a regular expression (default false)"})
    async def find(self, doc_id: str, pattern: str, regex: bool = False) -> str:
        matcher = compile_pattern(pattern, is_regex=regex)
        doc = await self._document(doc_id)
        return render_matches(doc, pattern, matcher, self.config.max_find_matches)

    @tool("Submit your final answer; this ends the episode.",
          answer={"type": "string", "description": "a short answer, e.g. a name copied from the documents"})
    async def submit(self, answer: str) -> Verdict:
        assert self.task is not None  # ToolEnv only runs tools between reset and the end of the episode
        return score_answer(answer, accepted_answers(self.task))

    # --- hooks -------------------------------------------------------------------------------------------------
    async def on_reset(self, task: Task, seed: int | None) -> None:
        accepted_answers(task)  # a task without a verified answer is a programming error: fail at reset

    def reference_action(self, task: Task) -> Action:
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": accepted_answers(task)[0]})])

    def reference_policy(self, task: Task) -> ToolScript:
        """`search` with the words the task was verified with, `open` each evidence document, then `submit`."""
        params = task.data.get("params") or {}
        query = next((params[k] for k in ("name", "qualified", "phrase") if k in params), task.prompt)
        opens = [tool_call("open", doc_id=doc_id) for doc_id in task.data.get("evidence") or []]
        return ToolScript([tool_call("search", query=query), *opens,
                           tool_call("submit", answer=accepted_answers(task)[0])])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        from agentgym.envs.search.tasks import generate_tasks

        return generate_tasks(self.local_index(), n, seed=seed)


def accepted_answers(task: Task) -> list[str]:
    """The task's accepted answers: ``data["answers"]`` (a list of strings) or ``[data["answer"]]``.

    Raises:
        ValueError: the task has neither, or an answer is not a non-empty string.
    """
    answers = task.data.get("answers")
    if answers is None and "answer" in task.data:
        answers = [task.data["answer"]]
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) and a.strip() for a in answers):
        raise ValueError(f"task {task.id!r}: data must hold 'answers' (a list of non-empty strings) or 'answer', "
                         f"got {task.data!r}")
    return answers
