"""Shared helpers for the search tests: one python-docs index per test process, and a small folder corpus."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from agentgym.envs.search.index_store import default_index_path


@functools.lru_cache(maxsize=1)
def cache_root() -> Path:
    """A private $AGENTGYM_CACHE for this test process, holding the python-docs index at its default place."""
    root = Path(tempfile.mkdtemp(prefix="agentgym-search-test-"))
    atexit.register(shutil.rmtree, root, True)
    return root


@functools.lru_cache(maxsize=1)
def python_docs_index() -> Path:
    """Build the python-docs index once per process (a couple of seconds) where `SearchEnv()` looks for it."""
    import os

    from agentgym.envs.search.index_store import ensure_index

    saved = os.environ.get("AGENTGYM_CACHE")
    os.environ["AGENTGYM_CACHE"] = str(cache_root())
    try:
        path = default_index_path()
    finally:
        if saved is None:
            del os.environ["AGENTGYM_CACHE"]
        else:
            os.environ["AGENTGYM_CACHE"] = saved
    return ensure_index(path)


SMALL_CORPUS = {
    "guide/intro.md": "# Getting started\n\nThe quick brown fox jumps over the lazy dog near the riverbank.\n"
                      "Install the frobnicator with the package manager before first use.\n",
    "guide/advanced.md": "# Advanced usage\n\nTune the frobnicator by setting the flux capacitance to 88 units.\n"
                         "Never run two frobnicators on the same power line at night.\n",
    "notes.txt": "Release notes for version 2\n\nThe teapot protocol now answers status 418 when brewing coffee.\n",
    "page.html": "<html><head><title>Weather Station Manual</title><style>p {color: red}</style>"
                 "<script>var hidden = 'nothing to see';</script></head><body><h1>Station</h1>"
                 "<p>The anemometer measures wind speed in knots every ten seconds.</p>"
                 "<p>Calibrate the barometer &amp; the hygrometer each spring.</p></body></html>",
    "my notes/odd name.md": "# Odd file\n\nA file whose path has a space in it, about zebra migration patterns.\n",
    ".hidden/secret.md": "# Hidden\n\nThis must not be indexed.\n",
    "image.png": "not text",
}


def write_small_corpus(folder: Path) -> Path:
    """Write `SMALL_CORPUS` under `folder` and return it."""
    for rel, text in SMALL_CORPUS.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder
