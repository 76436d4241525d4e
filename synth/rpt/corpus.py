"""Text corpora for RPT task synthesis: CPython's own pydoc topics (no download) or any folder of text files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = (".txt", ".md", ".rst", ".text")


@dataclass(frozen=True, slots=True)
class Document:
    """One text of the corpus. `id` is stable across runs (it names the source, not a position in a list)."""

    id: str
    title: str
    text: str


def python_docs_corpus() -> list[Document]:
    """One document per pydoc language-reference topic (`pydoc_data.topics`, shipped with every CPython).

    That is about 80 documents and 450 KB of English prose with code, sorted by id so the order never depends on
    dict ordering across Python builds.
    """
    from pydoc_data.topics import topics

    docs = [Document(id=f"topic:{name}", title=f"Python language reference: {name}", text=_clean(text))
            for name, text in topics.items()]
    return sorted((d for d in docs if d.text), key=lambda d: d.id)


def folder_corpus(root: str | Path, *, suffixes: tuple[str, ...] = TEXT_SUFFIXES) -> list[Document]:
    """Every text file under `root` whose name ends in one of `suffixes`, id = path relative to `root`.

    Raises:
        ValueError: `root` is not a directory, or holds no readable text file.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"corpus folder {str(root)!r} is not a directory")
    docs = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes):
        try:
            text = _clean(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            continue  # a binary file with a text suffix is not part of a text corpus
        if text:
            rel = path.relative_to(root).as_posix()
            docs.append(Document(id=f"file:{rel}", title=path.stem.replace("_", " "), text=text))
    if not docs:
        raise ValueError(f"corpus folder {str(root)!r} holds no UTF-8 text file ending in {', '.join(suffixes)}")
    return docs


def load_corpus(source: str) -> list[Document]:
    """`"python-docs"` for the built-in corpus, anything else is a folder path."""
    return python_docs_corpus() if source == "python-docs" else folder_corpus(source)


def corpus_fingerprint(docs: list[Document]) -> str:
    """A short content hash of the corpus, stored with each task so a regeneration can tell it has the same input."""
    digest = hashlib.sha256()
    for d in docs:
        for part in (d.id, d.text):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()[:16]


def _clean(text: str) -> str:
    """Unify line ends and drop trailing blanks per line: they are invisible in a prompt, so nobody can predict them."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")
