"""`LocalIndex` (bm25s backend) and the tokenizer: ranking, one hit per document, snippets, errors, sharing."""

from __future__ import annotations

import pytest

from agentgym.envs.search.backend import DocumentNotFound, SearchBackend
from agentgym.envs.search.builder import build_index
from agentgym.envs.search.index import IndexFormatError, LocalIndex, open_index
from agentgym.envs.search.tokenizer import Tokenizer

from search_fixtures import python_docs_index, write_small_corpus


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    return LocalIndex(build_index(write_small_corpus(root / "src"), root / "idx").path)


def test_tokenizer_splits_identifiers_and_drops_stopwords():
    assert Tokenizer(stemmer=None)("The json.dumps of get_terminal_size, for x") == [
        "json", "dumps", "get_terminal_size", "get", "terminal", "size", "for"]
    assert Tokenizer()("running statements") == ["run", "statement"]
    with pytest.raises(ValueError, match="stemmer"):
        Tokenizer(stemmer="klingon")


def test_search_ranks_the_matching_document_first(small_index):
    assert isinstance(small_index, SearchBackend)
    hits = small_index.search("anemometer wind speed", 3)
    assert hits[0].id == "page.html" and hits[0].title == "Weather Station Manual"
    assert "anemometer" in hits[0].snippet.lower()
    assert small_index.search("zebra migration", 1)[0].id == "my notes/odd name.md"


def test_search_returns_each_document_once_and_respects_k():
    index = open_index(python_docs_index())
    hits = index.search("json dumps", 5)
    assert len(hits) == 5 and len({h.id for h in hits}) == 5
    assert "json.dumps" in [h.id for h in hits[:3]]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    long_doc = index.search("augmented assignment statement", 20)
    assert len({h.id for h in long_doc}) == len(long_doc) == 20


def test_long_documents_point_at_the_matching_passage():
    index = open_index(python_docs_index())
    hit = next(h for h in index.search("future statement compile flags", 10) if h.id == "topic:import")
    assert hit.offset > 0
    assert index.get(hit.id).text[hit.offset:].startswith(hit.snippet.lstrip(".")[:20])


def test_queries_without_known_words_find_nothing(small_index):
    assert small_index.search("the of to", 5) == []
    assert small_index.search("qwertyuiopasdf", 5) == []
    assert small_index.search("!!!", 5) == []


def test_get_unknown_id_raises_document_not_found(small_index):
    assert small_index.get("notes.txt").title == "Release notes for version 2"
    with pytest.raises(DocumentNotFound, match="nope.md"):
        small_index.get("nope.md")


def test_open_index_shares_one_instance_and_rejects_non_indexes(tmp_path):
    assert open_index(python_docs_index()) is open_index(python_docs_index())
    with pytest.raises(IndexFormatError, match="not a search index"):
        open_index(tmp_path)
