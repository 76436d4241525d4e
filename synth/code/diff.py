"""Unified diffs of one changed file, in the format the code_repair env applies (incl. "No newline" markers)."""

from __future__ import annotations

import difflib
import hashlib

NO_NEWLINE = "\\ No newline at end of file"


def make_diff(path: str, before: str, after: str, *, context: int = 3) -> str:
    """The unified diff turning `before` into `after` for `path` ("" when equal)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}", n=context
    )
    return "".join(line if line.endswith("\n") else line + "\n" + NO_NEWLINE + "\n" for line in lines)


def patch_sha256(patch: str) -> str:
    """Hash of a patch's content lines only (headers and hunk positions ignored), the dedup key of a bug."""
    body = [line for line in patch.splitlines() if line[:1] in "+- " and not line.startswith(("+++", "---"))]
    return hashlib.sha256("\n".join(body).encode()).hexdigest()
