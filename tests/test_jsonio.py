"""JSON written by agentgym (files, HTTP bodies, MCP replies) holds any text, including a lone surrogate."""

from __future__ import annotations

import json

from agentgym.jsonio import dumps_utf8, utf8_safe, write_jsonl_atomic

ODD = {"prompt": "a \udcff b", "k\ud800": ["🙂", "é", "\\udcff"]}


def test_dumps_utf8_escapes_only_lone_surrogates_and_round_trips():
    data = dumps_utf8(ODD)
    assert b"a \\udcff b" in data and "🙂".encode() in data  # strict UTF-8 (decode below); emoji stay raw
    data.decode("utf-8")
    assert json.loads(data) == ODD


def test_jsonl_files_hold_lone_surrogates(tmp_path):
    path = write_jsonl_atomic(tmp_path / "out.jsonl", [ODD, {"n": 1}])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [ODD, {"n": 1}]


def test_utf8_safe_writes_surrogates_out_as_text():
    assert utf8_safe(ODD) == {"prompt": "a \\udcff b", "k\\ud800": ["🙂", "é", "\\udcff"]}
    assert utf8_safe((1, None, 2.5)) == [1, None, 2.5]
