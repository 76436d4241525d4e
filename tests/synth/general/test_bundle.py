"""The `general` env's shipped bundle is exactly what the procedural pipeline produces (so it can be regenerated)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import agentgym.envs.general as general_env
import pytest
from agentgym.synth.general.bundle import build_bundle


@pytest.mark.slow
def test_the_shipped_bundle_matches_a_fresh_build():
    shipped = json.loads(gzip.decompress((Path(general_env.__file__).parent / "data" / "builtin.json.gz").read_bytes()))
    fresh = json.loads(json.dumps(build_bundle()))
    assert [t["id"] for t in fresh["tasks"]] == [t["id"] for t in shipped["tasks"]]
    assert fresh["environments"] == shipped["environments"]
    for a, b in zip(fresh["tasks"], shipped["tasks"]):
        assert (a["prompt"], a["data"]) == (b["prompt"], b["data"])
