"""Unified diffs in pure Python: make one from two texts, parse one (git or plain), apply it to file contents.

Patches are applied on the host to a fresh copy of a snapshot, before any untrusted code has run in it, so applying
never executes anything; paths are checked to stay inside the repository.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from dataclasses import dataclass, field

NO_NEWLINE = "\\ No newline at end of file"
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(ValueError):
    """A patch that does not parse, or does not apply to the files it names."""


@dataclass(slots=True)
class Hunk:
    old_start: int
    old_lines: list[str] = field(default_factory=list)
    new_lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FilePatch:
    """The changes to one file. `old_path`/`new_path` are None for a created/deleted file."""

    old_path: str | None
    new_path: str | None
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


def make_diff(path: str, before: str, after: str, *, context: int = 3) -> str:
    """The unified diff turning `before` into `after` for the file `path` ("" when they are equal)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}", n=context
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n" + NO_NEWLINE + "\n")
    return "".join(out)


def _clean_path(raw: str) -> str | None:
    name = raw.split("\t")[0].strip()
    if name == "/dev/null":
        return None
    if name.startswith(("a/", "b/")):
        name = name[2:]
    norm = posixpath.normpath(name)
    if norm.startswith(("/", "../")) or norm in ("..", "."):
        raise PatchError(f"patch names a path outside the repository: {raw!r}")
    return norm


def parse_patch(text: str) -> list[FilePatch]:
    """The file patches in `text` (git-style `diff --git` headers and plain `---`/`+++` pairs both work)."""
    lines = text.splitlines(keepends=True)
    patches: list[FilePatch] = []
    i = 0
    while i < len(lines):
        if not (lines[i].startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i += 1
            continue
        fp = FilePatch(_clean_path(lines[i][4:]), _clean_path(lines[i + 1][4:]))
        i += 2
        while i < len(lines) and (m := _HUNK.match(lines[i])):
            num_old = int(m.group(2)) if m.group(2) is not None else 1
            num_new = int(m.group(4)) if m.group(4) is not None else 1
            hunk = Hunk(old_start=int(m.group(1)))
            i += 1
            while i < len(lines) and (len(hunk.old_lines) < num_old or len(hunk.new_lines) < num_new):
                line = lines[i]
                tag, body = line[:1], line[1:]
                if tag == " " or line in ("\n", "\r\n"):  # some tools drop the space of an empty context line
                    body = body if tag == " " else line
                    hunk.old_lines.append(body)
                    hunk.new_lines.append(body)
                elif tag == "-":
                    hunk.old_lines.append(body)
                elif tag == "+":
                    hunk.new_lines.append(body)
                elif line.startswith("\\"):  # "\ No newline at end of file" after the line before it
                    _strip_last_newline(hunk, lines[i - 1][:1])
                else:
                    raise PatchError(f"malformed hunk line {i + 1}: {line!r}")
                i += 1
            while i < len(lines) and lines[i].startswith("\\"):  # "\ No newline at end of file" after the last line
                _strip_last_newline(hunk, lines[i - 1][:1])
                i += 1
            fp.hunks.append(hunk)
        patches.append(fp)
    if text.strip() and not patches:
        raise PatchError("no file changes found in the patch (expected '--- a/PATH' / '+++ b/PATH' headers)")
    return patches


def _strip_last_newline(hunk: Hunk, tag: str) -> None:
    targets = {"-": [hunk.old_lines], "+": [hunk.new_lines], " ": [hunk.old_lines, hunk.new_lines]}.get(tag, [])
    for image in targets:
        if image and image[-1].endswith("\n"):
            image[-1] = image[-1][:-1]


def apply_file_patch(before: str | None, fp: FilePatch) -> str | None:
    """The new content of one file (None when the patch deletes it). Hunks may sit at shifted line numbers."""
    lines = (before or "").splitlines(keepends=True)
    offset = 0
    for hunk in fp.hunks:
        expected = max(hunk.old_start - 1, 0) + offset
        at = _find(lines, hunk.old_lines, expected)
        if at is None:
            raise PatchError(f"hunk at line {hunk.old_start} of {fp.path} does not apply")
        lines[at : at + len(hunk.old_lines)] = hunk.new_lines
        offset = at - max(hunk.old_start - 1, 0) + len(hunk.new_lines) - len(hunk.old_lines)
    if fp.new_path is None:
        return None
    return "".join(lines)


def _find(lines: list[str], needle: list[str], expected: int) -> int | None:
    if not needle:
        return min(expected, len(lines))
    span = len(needle)
    for distance in range(len(lines) + 1):
        for at in (expected - distance, expected + distance) if distance else (expected,):
            if 0 <= at <= len(lines) - span and lines[at : at + span] == needle:
                return at
    return None


def apply_patch(files: dict[str, str | None], text: str) -> dict[str, str | None]:
    """Apply `text` to `files` (path -> content, None for absent); returns the changed paths' new contents."""
    changed: dict[str, str | None] = {}
    for fp in parse_patch(text):
        source = fp.old_path
        current = changed[source] if source in changed else files.get(source) if source else None
        if source is not None and current is None:
            raise PatchError(f"the patch changes {source}, which does not exist")
        new = apply_file_patch(current, fp)
        if fp.old_path and fp.new_path and fp.old_path != fp.new_path:
            changed[fp.old_path] = None
        changed[fp.new_path or fp.old_path or ""] = new
    return changed


def patched_paths(text: str) -> list[str]:
    """Every path a patch reads or writes, in order, without duplicates."""
    out: list[str] = []
    for fp in parse_patch(text):
        for p in (fp.old_path, fp.new_path):
            if p is not None and p not in out:
                out.append(p)
    return out
