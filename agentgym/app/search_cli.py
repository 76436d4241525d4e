"""`agentgym search build-index`: build an offline search index and print what was built."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from agentgym.app.console import friendly
from agentgym.errors import AgentGymError

if TYPE_CHECKING:
    from agentgym.envs.search.builder import IndexInfo

search_app = typer.Typer(help="Build and inspect offline search indexes.", no_args_is_help=True)


class BuildIndexError(AgentGymError, ValueError):
    """The index could not be built from what the user gave (the CLI prints it as one line)."""


def build_index_command(source: str, out: Path, *, overwrite: bool = False, stemmer: str | None = "english",
                        passage_chars: int = 1200, time_limit_s: float = 60.0, progress: bool = True) -> IndexInfo:
    """Build the index of `source` (``"python-docs"`` or a folder) into `out` with a progress bar, then print a summary.

    Raises:
        BuildIndexError: a bad source, an existing non-empty `out` without `overwrite`, or a bad option value.
    """
    from rich.console import Console

    from agentgym.envs.search.builder import IndexConfig, build_index

    try:
        config = IndexConfig(passage_chars=passage_chars, stemmer=stemmer, time_limit_s=time_limit_s,
                             show_progress=progress)
        info = build_index(source, Path(out), config=config, overwrite=overwrite)
    except ValueError as e:
        raise BuildIndexError(str(e)) from e
    console = Console(highlight=False)
    console.print(f"built index of {info.source} in {info.path}: {info.num_documents} documents, "
                  f"{info.num_passages} passages, {info.build_seconds:.1f} s (corpus {info.corpus_hash[:12]})",
                  markup=False, soft_wrap=True)
    skipped = info.manifest.get("skipped", [])
    if skipped:
        console.print(f"  skipped {len(skipped)} modules that cannot be imported or described here "
                      f"(listed under 'skipped' in {Path(info.path) / 'manifest.json'})", markup=False, soft_wrap=True)
    return info


@search_app.command("build-index")
@friendly
def search_build_index(
    source: str = typer.Option(..., help="'python-docs' (the running CPython's own documentation) or a folder of "
                                         ".txt/.md/.html files"),
    out: Path = typer.Option(..., help="index folder to write"),
    overwrite: bool = typer.Option(False, help="replace an existing index"),
    stem: bool = typer.Option(True, help="English stemming (PyStemmer)"),
) -> None:
    """Build a bm25s index with stable document ids, titles and passages."""
    build_index_command(source, out, overwrite=overwrite, stemmer="english" if stem else None,
                        progress=sys.stderr.isatty())
