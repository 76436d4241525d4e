"""The library side of `agentgym search build-index`: build an index and print what was built."""

from __future__ import annotations

from pathlib import Path

from agentgym.envs.search.builder import IndexConfig, IndexInfo, build_index
from agentgym.errors import AgentGymError


class BuildIndexError(AgentGymError, ValueError):
    """The index could not be built from what the user gave (the CLI prints it as one line)."""


def build_index_command(source: str, out: Path, *, overwrite: bool = False, stemmer: str | None = "english",
                        passage_chars: int = 1200, time_limit_s: float = 60.0, progress: bool = True) -> IndexInfo:
    """Build the index of `source` (``"python-docs"`` or a folder) into `out` with a progress bar, then print a summary.

    Raises:
        BuildIndexError: a bad source, an existing non-empty `out` without `overwrite`, or a bad option value.
    """
    from rich.console import Console

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
