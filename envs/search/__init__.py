"""The `search` env: an agent searches an offline bm25s index (or a search API), reads documents and answers.

Heavy pieces (bm25s, the index) load on first use, so importing this package stays cheap.
"""

from agentgym.envs.search.backend import (
    BackendUnavailable,
    DocumentNotFound,
    SearchBackend,
    SearchHit,
)
from agentgym.envs.search.builder import IndexConfig, IndexInfo, build_index
from agentgym.envs.search.documents import Document
from agentgym.envs.search.env import SearchEnv, SearchEnvConfig
from agentgym.envs.search.http_backend import HttpBackend

__all__ = [
    "BackendUnavailable",
    "Document",
    "DocumentNotFound",
    "HttpBackend",
    "IndexConfig",
    "IndexInfo",
    "SearchBackend",
    "SearchEnv",
    "SearchEnvConfig",
    "SearchHit",
    "build_index",
]
