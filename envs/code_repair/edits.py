"""Exact-match text edits (`edit_file`) with errors an agent can act on, and edits that reproduce a patch.

An edit replaces one occurrence of `old` by `new`. When `old` is missing the error shows the closest passage; when
it occurs more than once the error gives every line number so the agent adds context.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from agentgym.toolenv import ToolError

MAX_SHOWN_LINES = 12


@dataclass(frozen=True, slots=True)
class Edit:
    path: str
    old: str
    new: str


def occurrences(text: str, old: str) -> list[int]:
    """Start offsets of every occurrence of `old`, overlapping ones included (`str.count` skips those)."""
    found, start = [], 0
    while (at := text.find(old, start)) != -1:
        found.append(at)
        start = at + 1
    return found


def line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def nearest_passage(text: str, old: str) -> tuple[int, float, str]:
    """(first line, similarity in [0, 1], passage) of the window of `text` most like `old`."""
    lines = text.splitlines(keepends=True)
    width = max(1, old.count("\n") + (0 if old.endswith("\n") else 1))
    best = (1, 0.0, "")
    target = old.strip()
    for start in range(max(1, len(lines) - width + 1)):
        window = "".join(lines[start : start + width])
        matcher = difflib.SequenceMatcher(None, window.strip(), target, autojunk=False)
        if matcher.real_quick_ratio() <= best[1] or matcher.quick_ratio() <= best[1]:
            continue
        ratio = matcher.ratio()
        if ratio > best[1]:
            best = (start + 1, ratio, window)
    return best


def replace_exact(text: str, path: str, old: str, new: str) -> tuple[str, int]:
    """(new text, line of the change). Raises `ToolError` when `old` is missing or ambiguous, or empty while the file
    is not (an empty `old` only fills an empty file)."""
    if old == "" and text == "":
        return new, 1
    if old == "":
        raise ToolError(f"`old` is empty; give the exact text to replace in {path} (or create a new file with it)")
    found = occurrences(text, old)
    count = len(found)
    if count == 1:
        at = found[0]
        return text[:at] + new + text[at + len(old) :], line_of(text, at)
    if count > 1:
        positions = [line_of(text, at) for at in found]
        shown = ", ".join(map(str, positions[:20])) + (" ..." if len(positions) > 20 else "")
        raise ToolError(
            f"`old` occurs {count} times in {path} (at lines {shown}); "
            "include more surrounding lines so that it matches exactly once"
        )
    line, ratio, passage = nearest_passage(text, old)
    hint = ""
    if ratio >= 0.5:
        excerpt = "".join(passage.splitlines(keepends=True)[:MAX_SHOWN_LINES])
        hint = f"; the nearest match (similarity {ratio:.2f}) starts at line {line}:\n{excerpt}"
        if old.strip() and old.strip() in text:
            hint = f"; it matches if leading/trailing whitespace is ignored (line {line_of(text, text.index(old.strip()))})"
    raise ToolError(f"`old` was not found in {path} (0 matches; it must match exactly, whitespace included){hint}")


def edits_between(path: str, before: str, after: str) -> list[Edit]:
    """Edits that turn `before` into `after`, each `old` unique in the text it is applied to (in order)."""
    if before == "":
        return [Edit(path, "", after)]  # `edit_file` fills an empty file when `old` is empty
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    edits: list[Edit] = []
    current = before
    ops = [op for op in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    shift = 0  # line delta from edits already applied
    for _tag, i1, i2, j1, j2 in ops:
        lines = current.splitlines(keepends=True)
        lo, hi = i1 + shift, i2 + shift
        new_mid = b[j1:j2]
        for grow in range(len(lines) + 1):
            s, e = max(0, lo - grow), min(len(lines), hi + grow)
            old = "".join(lines[s:e])
            if old and len(occurrences(current, old)) == 1:
                new = "".join(lines[s:lo] + new_mid + lines[hi:e])
                break
        else:  # pragma: no cover - the whole file is always unique
            raise ValueError(f"cannot express the change to {path} as unique edits")
        edits.append(Edit(path, old, new))
        current, _ = replace_exact(current, path, old, new)
        shift += (j2 - j1) - (i2 - i1)
    if current != after:  # pragma: no cover - a bug here would make the oracle lie
        raise ValueError(f"edits for {path} do not reproduce the target text")
    return edits
