"""The search-synthesis tests reuse the search env tests' per-process python-docs index (a private AGENTGYM_CACHE)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "envs" / "search"))

from search_fixtures import cache_root, python_docs_index


@pytest.fixture(autouse=True)
def private_index(monkeypatch):
    """`agentgym.make("search")` finds the shared test index instead of the user's cache."""
    python_docs_index()
    monkeypatch.setenv("AGENTGYM_CACHE", str(cache_root()))
