"""`build_index`: read a corpus, split it into passages, index them with bm25s, and write the index folder atomically.

An index folder holds ``manifest.json`` (corpus hash, counts, build time, versions, tokenizer), ``documents.jsonl``
(one `Document` per line), ``passages.npy`` (document number, start and end offset of every indexed passage) and
``bm25s/`` (the bm25s index). It is written to a temporary sibling folder and renamed into place, so a reader never
sees half an index and two concurrent builds cannot interleave their files.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from agentgym.envs.search.documents import Document, corpus_hash
from agentgym.envs.search.passages import split_passages
from agentgym.envs.search.tokenizer import Tokenizer
from agentgym.errors import require

FORMAT_VERSION = 1
PYTHON_DOCS = "python-docs"


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexConfig:
    """How to build an index.

    Attributes:
        passage_chars: target passage length in characters; passages end at line breaks where possible.
        stemmer: ``"english"`` (PyStemmer) or None.
        time_limit_s: the python-docs walk stops after this long and keeps what it found.
        per_module_s: a standard-library module that takes longer to import and describe is skipped.
        show_progress: draw a rich progress bar on stderr.
    """

    passage_chars: int = 1200
    stemmer: str | None = "english"
    time_limit_s: float = 60.0
    per_module_s: float = 3.0
    show_progress: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.passage_chars, int) or self.passage_chars < 100:
            raise ValueError(f"passage_chars must be an integer >= 100, got {self.passage_chars!r}")
        if self.stemmer not in (None, "english"):
            raise ValueError(f"stemmer must be 'english' or None, got {self.stemmer!r}")
        if not self.time_limit_s > 0:
            raise ValueError(f"time_limit_s must be > 0, got {self.time_limit_s!r}")
        if not self.per_module_s > 0:
            raise ValueError(f"per_module_s must be > 0, got {self.per_module_s!r}")


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexInfo:
    """What `build_index` produced: where, from what, and how big. `manifest` is the full ``manifest.json``."""

    path: Path
    source: str
    corpus_hash: str
    num_documents: int
    num_passages: int
    build_seconds: float
    manifest: dict[str, Any] = field(default_factory=dict)


def build_index(source: str | Path, out: str | Path, *, config: IndexConfig | None = None,
                overwrite: bool = False) -> IndexInfo:
    """Build a searchable index of `source` into the folder `out`.

    Args:
        source: ``"python-docs"`` (the running CPython's own documentation, no download) or a folder of .txt, .md
            and .html files.
        out: the index folder to create. It must not exist (or be empty) unless `overwrite` is true.
        config: passage size, stemming, time limits, progress bar.
        overwrite: replace an existing index at `out`.

    Returns:
        The `IndexInfo` of the new index, e.g. ``IndexInfo(num_documents=6212, num_passages=7770, ...)``.

    Raises:
        ValueError: `source` is neither ``"python-docs"`` nor a folder with indexable files, or `out` is in the way.
        agentgym.errors.DependencyNotInstalled: bm25s (or PyStemmer, when stemming) is missing.
    """
    config = config or IndexConfig()
    out = Path(out)
    if out.exists() and not overwrite and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"out {str(out)!r} already exists and is not empty; pass overwrite=True to replace it")
    bm25s = require("bm25s", "search", "the search index")
    tokenizer = Tokenizer(stemmer=config.stemmer)
    start = time.perf_counter()
    with _progress(config.show_progress) as progress:
        documents, report, source_name = _read_source(source, config, progress)
        if not documents:
            raise ValueError(f"source {source_name!r} produced no documents")
        passages = split_passages(documents, config.passage_chars)
        step = progress.add_task("tokenizing passages", total=len(passages))
        tokens = []
        for i, (doc_index, begin, end) in enumerate(passages):
            doc = documents[doc_index]
            tokens.append(tokenizer(doc.title + "\n" + doc.text[begin:end]))
            if i % 512 == 0:
                progress.update(step, completed=i)
        progress.update(step, completed=len(passages))
        step = progress.add_task("indexing with bm25s", total=None)
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        progress.update(step, total=1, completed=1)
        seconds = time.perf_counter() - start
        manifest = _manifest(source_name, documents, passages, seconds, config, report)
        _write_atomically(out, overwrite, lambda tmp: _write_index(tmp, documents, passages, retriever, manifest))
    return IndexInfo(path=out, source=source_name, corpus_hash=manifest["corpus_hash"],
                     num_documents=len(documents), num_passages=len(passages), build_seconds=seconds,
                     manifest=manifest)


def _read_source(source: str | Path, config: IndexConfig, progress: Any) -> tuple[list[Document], dict, str]:
    if str(source) == PYTHON_DOCS:
        from agentgym.envs.search.python_docs import python_docs_documents

        step = progress.add_task("reading the standard library", total=None)
        documents, report = python_docs_documents(
            time_limit_s=config.time_limit_s, per_module_s=config.per_module_s,
            on_module=lambda name: progress.update(step, advance=1, description=f"reading {name}"))
        progress.update(step, description="read the standard library", total=1, completed=1)
        return documents, report, PYTHON_DOCS
    from agentgym.envs.search.folder import folder_documents

    folder = Path(source)
    step = progress.add_task(f"reading {folder}", total=None)
    documents = folder_documents(folder, on_file=lambda _: progress.update(step, advance=1))
    return documents, {"skipped": [], "is_complete": True}, str(folder.resolve())


def _manifest(source: str, documents: list[Document], passages: list[tuple[int, int, int]], seconds: float,
              config: IndexConfig, report: dict) -> dict[str, Any]:
    import importlib.metadata as md

    def version(dist: str) -> str | None:
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return None

    return {
        "format_version": FORMAT_VERSION,
        "source": source,
        "corpus_hash": corpus_hash(documents),
        "num_documents": len(documents),
        "num_passages": len(passages),
        "build_seconds": round(seconds, 3),
        "built_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {"python": sys.version.split()[0], "bm25s": version("bm25s"), "PyStemmer": version("PyStemmer"),
                     "agentgym": version("agentgym")},
        "tokenizer": {"stemmer": config.stemmer},
        "passage_chars": config.passage_chars,
        "skipped": report.get("skipped", []),
        "is_complete": report.get("is_complete", True),
    }


def _write_index(folder: Path, documents: list[Document], passages: list[tuple[int, int, int]], retriever: Any,
                 manifest: dict[str, Any]) -> None:
    import numpy as np

    with open(folder / "documents.jsonl", "w", encoding="utf-8") as f:
        for doc in documents:
            f.write(doc.to_json() + "\n")
    np.save(folder / "passages.npy", np.asarray(passages, dtype=np.int64).reshape(-1, 3))
    retriever.save(str(folder / "bm25s"), show_progress=False)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _write_atomically(out: Path, overwrite: bool, write: Any) -> None:
    """Write into a temporary sibling of `out`, then rename it to `out` (replacing an old index when `overwrite`)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; the index should read like any folder the user makes
    try:
        write(tmp)
        if out.exists():
            if not overwrite:
                if out.is_dir() and not any(out.iterdir()):
                    out.rmdir()
                else:
                    raise FileExistsError(f"{out} appeared while the index was being built (a concurrent build?)")
            else:
                old = out.with_name(f".{out.name}.old-{os.getpid()}-{time.time_ns()}")
                os.rename(out, old)
                shutil.rmtree(old, ignore_errors=True)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class _NoProgress:
    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass


@contextlib.contextmanager
def _progress(is_shown: bool) -> Iterator[Any]:
    if not is_shown:
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as progress:
        yield progress
