"""Corpus readers and `build_index`: folder and python-docs sources, stable ids, manifest, atomic writes."""

from __future__ import annotations

import json
import threading

import pytest

from agentgym.envs.search.builder import IndexConfig, build_index
from agentgym.envs.search.index_store import ensure_index
from agentgym.envs.search.documents import Document
from agentgym.envs.search.folder import folder_documents
from agentgym.envs.search.html_text import html_to_text
from agentgym.envs.search.index import LocalIndex, open_index
from agentgym.envs.search.passages import split_passages
from agentgym.envs.search.python_docs import walk_stdlib

from search_fixtures import python_docs_index, write_small_corpus


def test_folder_documents_have_path_ids_titles_and_plain_text(tmp_path):
    docs = {d.id: d for d in folder_documents(write_small_corpus(tmp_path))}
    assert sorted(docs) == ["guide/advanced.md", "guide/intro.md", "my notes/odd name.md", "notes.txt", "page.html"]
    assert docs["guide/intro.md"].title == "Getting started"
    assert docs["notes.txt"].title == "Release notes for version 2"
    page = docs["page.html"]
    assert page.title == "Weather Station Manual"
    assert "anemometer measures wind speed" in page.text and "barometer & the hygrometer" in page.text
    assert "hidden" not in page.text and "color" not in page.text


def test_html_to_text_breaks_blocks_and_falls_back_to_h1():
    title, text = html_to_text("<h1>Head</h1><p>a <b>b</b></p><ul><li>one</li><li>two</li></ul><pre>  x\n  y</pre>")
    assert title == "Head"
    assert text.splitlines()[:4] == ["Head", "", "a b", ""]
    assert "one\n" in text and "two" in text and "  x\n  y" in text


def test_build_index_writes_manifest_and_is_stable(tmp_path):
    source = write_small_corpus(tmp_path / "src")
    first = build_index(source, tmp_path / "a", config=IndexConfig(stemmer=None))
    second = build_index(source, tmp_path / "b", config=IndexConfig(stemmer=None))
    assert first.corpus_hash == second.corpus_hash and first.num_documents == 5
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    for key in ("corpus_hash", "num_documents", "num_passages", "build_seconds", "built_at", "versions"):
        assert key in manifest
    assert manifest["versions"]["bm25s"] and manifest["tokenizer"] == {"stemmer": None}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["bm25s", "documents.jsonl", "manifest.json",
                                                                  "passages.npy"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders left behind


def test_build_index_refuses_to_clobber_and_rejects_bad_sources(tmp_path):
    source = write_small_corpus(tmp_path / "src")
    build_index(source, tmp_path / "idx")
    with pytest.raises(ValueError, match="not empty"):
        build_index(source, tmp_path / "idx")
    (source / "notes.txt").write_text("Completely new text about walruses and their tusks.\n")
    info = build_index(source, tmp_path / "idx", overwrite=True)
    assert LocalIndex(info.path).search("walruses tusks", 1)[0].id == "notes.txt"
    with pytest.raises(ValueError, match="not a folder"):
        build_index(tmp_path / "missing", tmp_path / "x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .txt"):
        build_index(tmp_path / "empty", tmp_path / "y")
    with pytest.raises(ValueError, match="passage_chars"):
        IndexConfig(passage_chars=10)


def test_concurrent_first_use_builds_once(tmp_path):
    source = write_small_corpus(tmp_path / "src")
    target = tmp_path / "cache" / "idx"
    results, errors = [], []

    def use() -> None:
        try:
            results.append(ensure_index(target, source=source))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == [target] * 4
    assert open_index(target).manifest["num_documents"] == 5
    assert sorted(p.name for p in target.parent.iterdir()) == ["idx", "idx.lock"]


def test_ensure_index_never_replaces_a_folder_that_is_not_an_index(tmp_path):
    source = write_small_corpus(tmp_path / "src")
    with pytest.raises(ValueError, match="not a search index"):
        ensure_index(source, source=source)
    assert (source / "notes.txt").exists()


def test_split_passages_covers_every_character():
    docs = [Document(id="a", title="a", text="aaaa\nbbbb\ncccc\n"), Document(id="b", title="b", text=""),
            Document(id="c", title="c", text="x" * 25 + "\nyy")]
    spans = split_passages(docs, 10)
    assert spans == [(0, 0, 10), (0, 10, 15), (1, 0, 0), (2, 0, 10), (2, 10, 20), (2, 20, 28)]


def test_python_docs_index_has_thousands_of_documents():
    index = open_index(python_docs_index())
    kinds = {d.kind for d in index.documents}
    assert index.manifest["num_documents"] >= 3000 and {"module", "function", "class", "topic"} <= kinds
    dumps = index.get("json.dumps")
    assert dumps.text.startswith("json.dumps\nKind: function\nModule: json\nSignature: dumps(obj, ")
    assert "Serialize" in dumps.text
    assert index.get("topic:assignment").title == "Language reference: assignment"
    unsafe = ("antigravity", "this", "idlelib", "tkinter", "turtle", "test.")
    assert not [d.id for d in index.documents if d.id.startswith(unsafe) or d.id in ("this", "test")]
    assert index.manifest["is_complete"] and index.manifest["source"] == "python-docs"
    assert " at 0x" not in "".join(d.text for d in index.documents if d.kind != "topic")


def test_stdlib_walk_obeys_its_time_limit():
    records, report = walk_stdlib(time_limit_s=0.05, per_module_s=1.0)
    full = open_index(python_docs_index()).manifest["num_documents"]
    assert len(records) < full / 2
    assert any("total time limit" in s for s in report["skipped"])
