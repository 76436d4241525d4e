"""What the agent sees from each tool: rendered search results, document pages and `find` matches.

Pure functions of a backend's answers, so the text format is tested without an index. Every id is printed JSON-quoted
(``id: "guide/intro.md"``), so ids with spaces survive a copy back into a tool call.
"""

from __future__ import annotations

import json
import re
from typing import Sequence

from agentgym.envs.search.backend import SearchHit
from agentgym.envs.search.documents import Document
from agentgym.toolenv import ToolError

MAX_PATTERN_CHARS = 200
MAX_LINE_CHARS = 400
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def render_hits(query: str, hits: Sequence[SearchHit]) -> str:
    """Numbered results, e.g. ``1. json.dumps\\n   id: "json.dumps" | offset 0\\n   Serialize obj ...``."""
    if not hits:
        return (f"no results for {query!r}. Try other words: names, distinctive terms, or fewer words "
                f"(very common words are ignored).")
    lines = [f"{len(hits)} result{'s' if len(hits) != 1 else ''} for {query!r}:"]
    for rank, hit in enumerate(hits, 1):
        where = f"id: {json.dumps(hit.id, ensure_ascii=False)} | offset {hit.offset}"
        if hit.url:
            where += f" | url: {hit.url}"
        lines += [f"{rank}. {hit.title}", f"   {where}", f"   {hit.snippet}"]
    return "\n".join(lines)


def render_page(doc: Document, offset: int, page_chars: int) -> str:
    """The characters [offset, offset + page_chars) of the document, with where they sit and how to read on.

    Raises:
        ToolError: `offset` is negative or past the end of the document.
    """
    size = len(doc.text)
    if offset < 0 or (offset >= size and not (offset == 0 and size == 0)):
        raise ToolError(f"offset {offset} is outside document {doc.id!r}, which has {size} characters "
                        f"(valid offsets: 0 to {max(size - 1, 0)})")
    end = min(size, offset + page_chars)
    num_pages = max(1, -(-size // page_chars))
    page = min(num_pages, offset // page_chars + 1)
    head = (f"{doc.title} (id: {json.dumps(doc.id, ensure_ascii=False)}) - page {page} of {num_pages}, "
            f"characters {offset}-{end} of {size}")
    if end < size:
        tail = f"[more: open(doc_id={json.dumps(doc.id, ensure_ascii=False)}, offset={end})]"
    else:
        tail = "[end of document]"
    return f"{head}\n---\n{doc.text[offset:end]}\n---\n{tail}"


def compile_pattern(pattern: str, *, is_regex: bool) -> re.Pattern[str]:
    """A case-insensitive matcher for `pattern`: a plain substring, or a checked regular expression.

    Regexes are refused when they are longer than `MAX_PATTERN_CHARS`, do not compile, nest one unbounded
    repetition inside another (``(a+)+``) or repeat alternatives that may overlap (``(a|aa)*``): the shapes that
    backtrack for exponential time on a non-matching line.

    Raises:
        ToolError: the pattern is empty or refused, with the reason.
    """
    if not pattern.strip():
        raise ToolError("pattern is empty; give a word or phrase to look for")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ToolError(f"pattern is {len(pattern)} characters; the limit is {MAX_PATTERN_CHARS}")
    if not is_regex:
        return re.compile(re.escape(pattern), re.IGNORECASE)
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise ToolError(f"invalid regular expression {pattern!r}: {e}") from None
    if _has_nested_repeat(pattern):
        raise ToolError(f"regular expression {pattern!r} repeats a group that can match the same text in more than "
                        f"one way (like (a+)+ or (a|aa)*), which can take exponential time; simplify it or search for "
                        f"a plain substring")
    return compiled


def render_matches(doc: Document, pattern: str, matcher: re.Pattern[str], max_matches: int) -> str:
    """Matching lines as ``line N: text`` (1-based), at most `max_matches`, each clipped to `MAX_LINE_CHARS`."""
    found = []
    total = 0
    for number, line in enumerate(doc.text.splitlines(), 1):
        if matcher.search(line[:MAX_LINE_CHARS * 10]):
            total += 1
            if len(found) < max_matches:
                shown = line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "..."
                found.append(f"line {number}: {shown}")
    quoted = json.dumps(doc.id, ensure_ascii=False)
    if not total:
        return f"no line of {quoted} matches {pattern!r}"
    more = f" (showing the first {max_matches})" if total > max_matches else ""
    return f"{total} line{'s' if total != 1 else ''} of {quoted} match {pattern!r}{more}:\n" + "\n".join(found)


def _has_nested_repeat(pattern: str) -> bool:
    try:
        from re import _parser as sre_parse  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_parse  # type: ignore[no-redef]
    return _walk(sre_parse.parse(pattern), inside_repeat=False)


def _walk(items: object, *, inside_repeat: bool) -> bool:
    for op, arg in items:  # type: ignore[attr-defined]
        name = str(op)
        if name in _REPEATS:
            low, high, sub = arg
            is_unbounded = high > 1000 or high - low > 10
            if is_unbounded and inside_repeat:
                return True
            if _walk(sub, inside_repeat=inside_repeat or is_unbounded):
                return True
        elif name == "SUBPATTERN":
            if _walk(arg[-1], inside_repeat=inside_repeat):
                return True
        elif name == "BRANCH":
            if inside_repeat and not _branches_are_disjoint(arg[1]):
                return True  # (a|aa)* backtracks like (a+)+
            if any(_walk(branch, inside_repeat=inside_repeat) for branch in arg[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _walk(arg[1], inside_repeat=inside_repeat):
                return True
    return False


def _branches_are_disjoint(branches: list) -> bool:
    """True when every alternative starts with a literal character and no two start with the same one."""
    firsts = []
    for branch in branches:
        items = list(branch)
        if not items or str(items[0][0]) != "LITERAL":
            return False
        firsts.append(chr(items[0][1]).lower())
    return len(set(firsts)) == len(firsts)
