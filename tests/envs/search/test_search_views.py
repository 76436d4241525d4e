"""Rendered tool results: result lists, pages with offsets, `find` with plain and regex patterns."""

from __future__ import annotations

import json
import time

import pytest

from agentgym.envs.search.backend import SearchHit
from agentgym.envs.search.documents import Document
from agentgym.envs.search.views import compile_pattern, render_hits, render_matches, render_page
from agentgym.toolenv import ToolError

DOC = Document(id="dir/a b.md", title="A doc", text="".join(f"line {i} alpha{' beta' if i % 3 == 0 else ''}\n"
                                                             for i in range(1, 301)))


def test_render_hits_quotes_ids_and_says_when_nothing_matched():
    text = render_hits("q", [SearchHit(id='dir/a b.md', title="A doc", snippet="alpha", offset=12)])
    assert text.splitlines() == ["1 result for 'q':", "1. A doc", '   id: "dir/a b.md" | offset 12', "   alpha"]
    assert "no results for 'zzz'" in render_hits("zzz", [])


def test_pages_say_where_they_are_and_how_to_go_on():
    first = render_page(DOC, 0, 1000)
    size = len(DOC.text)
    assert f"page 1 of {-(-size // 1000)}, characters 0-1000 of {size}" in first
    assert f"[more: open(doc_id={json.dumps(DOC.id)}, offset=1000)]" in first
    last = render_page(DOC, size - 10, 1000)
    assert last.endswith("[end of document]") and DOC.text[-10:] in last
    for bad in (-1, size, size + 5):
        with pytest.raises(ToolError, match="outside document"):
            render_page(DOC, bad, 1000)
    assert "page 1 of 1" in render_page(Document(id="e", title="e", text=""), 0, 1000)


def test_find_lists_numbered_lines_case_insensitively_and_caps_them():
    out = render_matches(DOC, "BETA", compile_pattern("BETA", is_regex=False), 5)
    lines = out.splitlines()
    assert lines[0] == '100 lines of "dir/a b.md" match \'BETA\' (showing the first 5):'
    assert lines[1:3] == ["line 3: line 3 alpha beta", "line 6: line 6 alpha beta"]
    assert "no line" in render_matches(DOC, "gamma", compile_pattern("gamma", is_regex=False), 5)
    plain = render_matches(DOC, "a.p", compile_pattern("a.p", is_regex=False), 5)  # a plain '.' is literal
    assert plain.startswith("no line")


def test_find_regex_works_and_bad_patterns_are_refused_with_reasons():
    out = render_matches(DOC, r"^line 1\d alpha$", compile_pattern(r"^line 1\d alpha$", is_regex=True), 20)
    assert out.startswith("7 lines")  # 10-19 except 12, 15 and 18, which carry beta
    with pytest.raises(ToolError, match="invalid regular expression"):
        compile_pattern("(unclosed", is_regex=True)
    with pytest.raises(ToolError, match="empty"):
        compile_pattern("  ", is_regex=False)
    with pytest.raises(ToolError, match="limit"):
        compile_pattern("x" * 500, is_regex=False)
    for evil in ("(a+)+$", "(a*)*b", "(a|aa)*c", "(\\w+\\s?)*$"):
        start = time.process_time()  # CPU time of this process: other load on the machine does not count
        with pytest.raises(ToolError, match="exponential"):
            compile_pattern(evil, is_regex=True)
        assert time.process_time() - start < 0.1
    assert compile_pattern("(foo|bar)+", is_regex=True).search("xxbarfoo")
