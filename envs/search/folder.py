"""A corpus from a folder of .txt, .md and .html files: one document per file, id = its path relative to the folder."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from agentgym.envs.search.documents import Document
from agentgym.envs.search.html_text import html_to_text

SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
MAX_TITLE_CHARS = 120


def folder_files(folder: Path) -> list[Path]:
    """The indexable files under `folder`, sorted by relative path; hidden files and folders are left out."""
    files = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in SUFFIXES:
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def folder_documents(folder: str | Path, *, on_file: Callable[[str], None] | None = None) -> list[Document]:
    """One `Document` per file, in path order. Undecodable bytes are replaced, never fatal.

    Raises:
        ValueError: `folder` is not a directory, or holds no .txt/.md/.html file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"source {str(folder)!r} is not a folder (expected a folder of .txt/.md/.html files or "
                         f"'python-docs')")
    files = folder_files(folder)
    if not files:
        raise ValueError(f"source folder {str(folder)!r} holds no .txt, .md or .html files")
    documents = []
    for path in files:
        rel = path.relative_to(folder).as_posix()
        raw = path.read_text(encoding="utf-8", errors="replace")
        title, text = read_document(raw, SUFFIXES[path.suffix.lower()])
        documents.append(Document(id=rel, title=(title or path.stem)[:MAX_TITLE_CHARS], text=text, kind="file",
                                  meta={"path": rel}))
        if on_file is not None:
            on_file(rel)
    return documents


def read_document(raw: str, fmt: str) -> tuple[str, str]:
    """(title, text) of one file's contents: the `<title>`/first `#` heading/first line, and the plain text."""
    if fmt == "html":
        return html_to_text(raw)
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if fmt == "markdown":
        for line in text.splitlines():
            if line.startswith("# "):
                return line[2:].strip(), text
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first.lstrip("#").strip(), text
