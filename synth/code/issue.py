"""Issue text for a synthesized bug, written from its failing tests; it names symptoms, never the patch.

The default is a template. A configured writer (a `str -> str` callable, sync or async; `policy_writer` makes one of
any chat policy, e.g. an OpenAI-compatible endpoint) gets the template as its prompt, so it never sees the patch;
its text is used only if it does not quote a changed line of the patch or look like a diff. Otherwise, and when the
writer fails, the template is used.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

IssueWriter = Callable[[str], "str | Awaitable[str]"]
_DIFF_MARKERS = re.compile(r"^(@@ -\d|--- a/|\+\+\+ b/|diff --git )", re.MULTILINE)

MAX_LISTED_TESTS = 5
MAX_MESSAGE_CHARS = 240


def _patch_lines(patch: str) -> list[str]:
    return [line[1:].strip() for line in patch.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---")) and len(line[1:].strip()) >= 6]  # fmt: skip


def reveals_patch(text: str, patch: str) -> bool:
    """True when `text` quotes a changed line of `patch` or contains diff hunks (either would hand over the fix)."""
    return bool(_DIFF_MARKERS.search(text)) or any(line in text for line in _patch_lines(patch))


def _clean(message: str, patch: str) -> str:
    message = " ".join(message.split())[:MAX_MESSAGE_CHARS]
    return "" if reveals_patch(message, patch) else message


def template_issue(project: str, failures: dict[str, str], patch: str) -> str:
    """A bug report from `failures` (node id -> failure message)."""
    ids = sorted(failures)
    modules = sorted({i.split("::", 1)[0] for i in ids})
    names = ", ".join(f"`{i.split('::')[-1]}`" for i in ids[:3]) + (" and others" if len(ids) > 3 else "")
    lines = [
        f"{project}: {len(ids)} test{'s' if len(ids) != 1 else ''} started failing ({names})",
        "",
        f"After a recent change, some behaviour of {project} is broken. The failing tests live in "
        f"{', '.join(f'`{m}`' for m in modules[:4])}{' and more' if len(modules) > 4 else ''}.",
        "",
        "Failing tests:",
    ]
    for i in ids[:MAX_LISTED_TESTS]:
        message = _clean(failures[i], patch)
        lines.append(f"- `{i}`" + (f": {message}" if message else ""))
    if len(ids) > MAX_LISTED_TESTS:
        lines.append(f"- ... and {len(ids) - MAX_LISTED_TESTS} more")
    lines += ["", "Please fix the library code so that these tests pass again without breaking other tests. "
                  "Do not modify the tests."]  # fmt: skip
    return "\n".join(lines)


WRITER_INSTRUCTIONS = ("Rewrite this automatically generated bug report as a short, natural GitHub issue. Describe "
                       "the symptoms only; do not guess the cause or suggest a code change.\n\n")  # fmt: skip


async def write_issue(project: str, failures: dict[str, str], patch: str,
                      writer: IssueWriter | None = None) -> tuple[str, str]:  # fmt: skip
    """(issue text, how it was written: "template" or "writer")."""
    text = template_issue(project, failures, patch)
    if writer is None:
        return text, "template"
    try:
        written = writer(WRITER_INSTRUCTIONS + text)
        if inspect.isawaitable(written):
            written = await written
    except Exception:  # noqa: BLE001 - a failing writer (endpoint down, bad reply) falls back to the template
        return text, "template"
    written = written.strip() if isinstance(written, str) else ""
    if not written or reveals_patch(written, patch):
        return text, "template"
    return written, "writer"


def policy_writer(policy: Any) -> IssueWriter:
    """An issue writer from a chat policy (`agentgym.rollout.Policy`, e.g. `OpenAIPolicy`): one user turn, no tools;
    the reply's text is the issue."""
    from agentgym.api import Message

    async def write(prompt: str) -> str:
        step = await policy.act([Message(role="user", content=prompt)], [])
        return step.action.text

    return write
