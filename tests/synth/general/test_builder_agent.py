"""The environment-building agent end to end: recorded transcripts, replayed by a fake OpenAI-compatible server on
127.0.0.1, drive real builds (sandboxed work folder, the real checks); the built folders play in the `general` env;
bad builds are rejected at the right stage with the right reason; a killed run resumes."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from agentgym.synth.general.builder import BuilderConfig, BuildRun, BuildRunConfig, Corpus
from agentgym.synth.general.builder.audit import DB_FILE_PROBLEM, check_tools_source
from fake_openai import FakeOpenAIServer, replay_responder

import agentgym
from agentgym.rollout.openai_policy import OpenAIPolicy

FIXTURES = Path(__file__).parent / "builder_fixtures"
SCRIPTS = {p.stem.replace("_", " "): [json.loads(line) for line in p.read_text().splitlines()]
           for p in FIXTURES.glob("*.jsonl")}


def run_builds(out: Path, categories: tuple[str, ...], **budget: int) -> tuple[list[dict], FakeOpenAIServer]:
    config = BuildRunConfig(categories=categories, num_envs=len(categories),
                            builder=BuilderConfig(**{"max_level": 1, "max_repairs": 1, **budget}))
    with FakeOpenAIServer(replay_responder(SCRIPTS)) as server:
        policy = OpenAIPolicy(model="fake", base_url=server.base_url)
        run = BuildRun(policy, Corpus(FIXTURES / "corpus"), out, config, model="openai:fake")
        return asyncio.run(run.run()), server


async def play_reference(out: Path) -> list[float]:
    rewards = []
    env = agentgym.make("general", tasks=out)
    try:
        for task in _tasks(out):
            await env.reset(task, seed=0)
            result = await env.step(env.reference_action(task))
            rewards.append(result.reward)
    finally:
        await env.close()
    return rewards


def _tasks(out: Path) -> list:
    from agentgym.taskio import load_tasks

    return load_tasks(out / "tasks.jsonl")


def test_three_categories_build_check_store_and_play_to_reward_1(tmp_path):
    records, _ = run_builds(tmp_path, ("bookstore", "weather stations", "recipes"))
    assert [r["status"] for r in records] == ["stored"] * 3, records
    assert [len(r["stored"]) for r in records] == [2, 2, 1]  # levels 0 and 1; recipes stops at level 0
    assert records[0]["num_repairs"] == 1  # the first bookstore solution failed its check and was repaired
    tasks = _tasks(tmp_path)
    assert {t.meta["category"] for t in tasks} == {"bookstore", "weather stations", "recipes"}
    assert all(c["passed"] for t in tasks for c in t.meta["quality"])
    assert {c["name"] for c in tasks[0].meta["quality"]} >= {"tools_only", "deterministic", "consistent",
                                                               "rejects_non_answers", "no_shortcut"}
    assert asyncio.run(play_reference(tmp_path)) == [1.0] * 5
    # escalation added a tool to the weather-stations environment
    manifest = json.loads((tmp_path / "envs" / "weather-stations-s0-b1" / "manifest.json").read_text())
    assert [t["name"] for t in manifest["tools"]] == ["list_stations", "station_climate", "stations_above"]
    # provenance: model, prompts, transcript hash, checks, the corpus documents behind the rows
    provenance = json.loads((tmp_path / "envs" / "bookstore-s0-b0" / "provenance.json").read_text())
    transcript = tmp_path / "transcripts" / "bookstore-s0-b0.jsonl"
    assert provenance["transcript_sha256"] == hashlib.sha256(transcript.read_bytes()).hexdigest()
    assert provenance["model"] == "openai:fake" and len(provenance["prompt_sha256"]) == 64
    assert provenance["sources"] == {f"books/{s}.txt": 1 for s in
                                     ("dune", "emma", "foundation", "hyperion", "neuromancer", "rebecca")}
    assert [lv["passed"] for lv in provenance["levels"]] == [True, True]
    assert tasks[0].meta["provenance"]["generator"] == "builder:bookstore"


def test_transcript_holds_every_turn_and_the_outcome(tmp_path):
    run_builds(tmp_path, ("recipes",))
    lines = [json.loads(line) for line in (tmp_path / "transcripts" / "recipes-s0-b0.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["category"] == "recipes"
    roles = [line["role"] for line in lines if line["type"] == "message"]
    assert roles[:2] == ["system", "user"] and roles.count("assistant") == len(SCRIPTS["recipes"])
    assert roles.count("tool") == len(SCRIPTS["recipes"])
    assert lines[-1]["type"] == "outcome" and lines[-1]["built"] is True and lines[-1]["num_levels"] == 1


@pytest.mark.parametrize(("category", "stage", "reason"), [
    ("bad db file", "tools", DB_FILE_PROBLEM),
    ("bad verifier", "checks", "rejects_non_answers"),
    ("bad solution", "checks", "tools.oldest_title is not a tool of this environment"),
    ("never converges", "data", "did not converge within the turn budget of 6 turns"),
])
def test_bad_builds_are_rejected_with_the_stage_and_reason(tmp_path, category, stage, reason):
    [record], _ = run_builds(tmp_path, (category,), max_turns=6 if category == "never converges" else 40)
    assert record["status"] == "rejected"
    assert record["failed_stage"] == stage
    assert reason in record["reason"]
    assert not (tmp_path / "envs").exists() and (tmp_path / "tasks.jsonl").read_text() == ""
    outcome = json.loads((tmp_path / "transcripts" / f"{record['key']}.jsonl").read_text().splitlines()[-1])
    assert outcome["failed_stage"] == stage and reason in outcome["reason"]


def test_a_rerun_skips_finished_builds(tmp_path):
    run_builds(tmp_path, ("recipes", "bad verifier"))
    (tmp_path / "tasks.jsonl").unlink()
    records, server = run_builds(tmp_path, ("recipes", "bad verifier"))
    assert server.requests == [] and all(r["resumed"] for r in records)
    assert len(_tasks(tmp_path)) == 1


def test_tools_source_audit_names_every_way_around_the_connection():
    source = ("import os\nfrom pathlib import Path\n\ndef f(db):\n    return open('data.db').read()\n\n"
              "def g(x):\n    return x\n")
    problems = check_tools_source(source, ["f", "g", "h"])
    assert any("imports 'os'" in p for p in problems) and any("imports 'pathlib'" in p for p in problems)
    assert any("calls open()" in p for p in problems) and any("names the file 'data.db'" in p for p in problems)
    assert "tools.py defines no function 'h'" in problems
    assert "tool 'g' must take the connection as its first parameter: def g(db, ...)" in problems
    assert check_tools_source("def f(db, k):\n    return db.execute('SELECT 1').fetchone()[0]\n", ["f"]) == []


def test_corpus_search_and_open():
    corpus = Corpus(FIXTURES / "corpus")
    assert corpus.backend in ("bm25s", "substring")
    hits = corpus.search("Finse weather station", k=3)
    assert hits[0].doc_id == "stations/finse.txt"
    assert corpus.open("stations/finse.txt").startswith("Finse weather station")
    with pytest.raises(KeyError, match="no document 'nope.txt'"):
        corpus.open("nope.txt")
    with pytest.raises(ValueError, match="is not a folder"):
        Corpus(FIXTURES / "missing")
