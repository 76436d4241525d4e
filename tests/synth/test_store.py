"""The append-only JSONL store: keyed appends without duplicates, content hashes, crash repair, corruption errors."""

from __future__ import annotations

import json

import pytest
from agentgym.synth.schemas import Provenance
from agentgym.synth.store import Store, StoreCorrupt, content_hash


def test_append_has_records_and_no_duplicates(tmp_path):
    store = Store(tmp_path / "s.jsonl")
    assert store.append({"id": "a", "x": 1}) is True
    assert store.append({"id": "a", "x": 2}) is False  # same key: nothing written
    assert store.append({"y": 3}, key="b") is True
    assert store.has("a") and store.has("b") and not store.has("c")
    reopened = Store(tmp_path / "s.jsonl")
    assert reopened.records() == [{"id": "a", "x": 1}, {"y": 3}]
    assert reopened.keys() == ["a", "b"] and len(reopened) == 2
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert [json.loads(line)["sha256"] for line in lines] == [content_hash({"id": "a", "x": 1}), content_hash({"y": 3})]


def test_pydantic_records_and_content_hash_keys(tmp_path):
    store = Store(tmp_path / "s.jsonl")
    record = Provenance(generator="procedural:x", seed=1, unit_index=2)
    assert store.append(record, key="p")
    assert store.get("p")["generator"] == "procedural:x"
    store.append({"z": 1})
    assert store.has(content_hash({"z": 1}))
    with pytest.raises(TypeError, match="record must be a dict"):
        store.append([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize("tail", [b'{"key": "c", "sha2', b'{"key":"c","sha256":"00","record":{"a":1}}\n'])
def test_a_torn_or_mismatched_last_line_is_cut_off(tmp_path, tail):
    path = tmp_path / "s.jsonl"
    store = Store(path)
    store.append({"a": 1}, key="a")
    good = path.read_bytes()
    path.write_bytes(good + tail)
    repaired = Store(path)
    assert repaired.keys() == ["a"] and repaired.num_repaired_bytes == len(tail)
    assert path.read_bytes() == good
    assert repaired.append({"c": 1}, key="c")
    assert Store(path).keys() == ["a", "c"]


def test_damage_in_mid_file_raises_naming_the_line(tmp_path):
    path = tmp_path / "s.jsonl"
    store = Store(path)
    for key in "abc":
        store.append({"v": key}, key=key)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"v":"b"', '"v":"B"')  # content no longer matches its hash
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StoreCorrupt, match=r"s.jsonl:2: damaged record"):
        Store(path)
