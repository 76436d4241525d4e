"""The search-QA pipeline on the python-docs corpus: verified multi-hop tasks that every baseline answers wrong."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest
from agentgym.synth.search import SearchSynthConfig, synthesize
from agentgym.synth.search.answerers import OneHop, baseline_answerers
from agentgym.app.synth_cli import synth_search_command
from agentgym.synth.search.check import check_tasks
from agentgym.synth.search.questions import QAPair
from agentgym.synth.search.session import ToolSession
from agentgym.synth.search.verify import is_correct, verify_pair
from agentgym.synth.store import Store

CONFIG = SearchSynthConfig(num_tasks=6, max_units=60, seed=3)


def run(config, store_path, **kwargs):
    return asyncio.run(synthesize(config, store_path, progress=False, **kwargs))


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    from search_fixtures import cache_root

    mp = pytest.MonkeyPatch()
    mp.setenv("AGENTGYM_CACHE", str(cache_root()))  # module-scoped: the autouse fixture has not run yet
    path = tmp_path_factory.mktemp("synth") / "units.store.jsonl"
    yield run(CONFIG, path), path
    mp.undo()


def test_accepted_tasks_are_multi_hop_verified_and_solved_by_the_reference(synthesized):
    report, _ = synthesized
    assert len(report.tasks) == CONFIG.num_tasks
    for task in report.tasks:
        assert task.env == "search" and task.data["answers"] == [task.data["answer"]]
        assert CONFIG.min_hops <= len(task.data["hops"]) <= CONFIG.max_hops
        assert task.data["answer"].lower() not in task.prompt.lower()
        checks = {q["name"]: q for q in task.meta["quality"]}
        assert checks["ground_truth_verified"]["passed"] and checks["all_candidates_wrong"]["passed"]
        assert set(task.meta["candidates"]) == {"first_hit_title", "snippet_guess", "one_hop"}
        assert task.meta["provenance"]["generator"] == "procedural:search-chain"
    assert asyncio.run(check_tasks(report.tasks)) == []


def test_every_candidate_answer_is_wrong_by_the_envs_own_verifier(synthesized):
    report, _ = synthesized
    for task in report.tasks:
        for answer in task.meta["candidates"].values():
            assert not asyncio.run(is_correct(task, answer))
        assert asyncio.run(is_correct(task, task.data["answer"]))


def test_funnel_only_narrows_and_rejections_are_accounted(synthesized):
    report, _ = synthesized
    counts = [report.funnel[s] for s in ("units", "entity", "question", "verified", "all_wrong")]
    assert counts == sorted(counts, reverse=True) and counts[-1] == len(report.tasks)
    assert counts[0] - counts[-1] == sum(report.rejections.values())


def test_rerun_resumes_from_the_store_with_no_duplicate(synthesized, tmp_path):
    report, path = synthesized
    before = path.read_text()
    again = run(CONFIG, path)
    assert path.read_text() == before  # nothing new was generated or appended
    assert [t.model_dump() for t in again.tasks] == [t.model_dump() for t in report.tasks]
    keys = [json.loads(line)["key"] for line in before.splitlines()]
    assert len(keys) == len(set(keys)) == len(Store(path))


def test_same_seed_same_tasks_other_seed_other_tasks(synthesized, tmp_path):
    report, _ = synthesized
    small = dataclasses.replace(CONFIG, num_tasks=2)
    first = run(small, tmp_path / "a.jsonl")
    assert [t.prompt for t in first.tasks] == [t.prompt for t in report.tasks[:2]]
    other = run(dataclasses.replace(small, seed=4), tmp_path / "b.jsonl")
    assert [t.prompt for t in other.tasks] != [t.prompt for t in first.tasks]


def test_a_wrong_ground_truth_fails_verification(synthesized):
    task = synthesized[0].tasks[0]
    data = task.data
    pair = QAPair(question=task.prompt, answer=data["answer"] + "x", start=data["start"], clues=data["clues"],
                  hops=data["hops"], final=data["final"], evidence=data["evidence"])

    async def check():
        session = ToolSession()
        good = await verify_pair(session, dataclasses.replace(pair, answer=data["answer"]))
        bad = await verify_pair(session, pair)
        return good, bad

    good, bad = asyncio.run(check())
    assert good.is_verified
    assert not bad.is_verified and bad.reason.startswith("replaying the chain gives")


def test_one_hop_questions_are_filtered_out_by_the_one_hop_solver(tmp_path):
    shallow = SearchSynthConfig(num_tasks=50, max_units=25, min_hops=1, max_hops=1, seed=1)
    report = run(shallow, tmp_path / "s.jsonl")
    rejected = [r for r in Store(tmp_path / "s.jsonl").records()
                if r["status"] == "rejected" and r["reason"].startswith("answered")]
    assert rejected, "a one-hop question should be answered by a baseline"
    solvers = {name for r in rejected for name in r["task"]["meta"]["quality"][-1]["details"]["right"]}
    assert "one_hop" in solvers
    assert len(report.tasks) < report.funnel["verified"]


def test_breadth_two_names_two_entities_of_the_same_module(tmp_path):
    wide = SearchSynthConfig(num_tasks=3, max_units=80, breadth=2, min_hops=2, max_hops=3, seed=5)
    report = run(wide, tmp_path / "w.jsonl")
    two = [t for t in report.tasks if len(t.data["clues"]) == 2]
    assert two, "no breadth-2 question was built"
    for task in two:
        assert "the module that defines both" in task.prompt
    assert asyncio.run(check_tasks(report.tasks)) == []


def test_synth_search_command_writes_tasks_and_prints_the_funnel(tmp_path, capsys):
    report = synth_search_command(tmp_path / "out", 2, max_units=40, seed=3, progress=True)
    lines = (tmp_path / "out" / "tasks.jsonl").read_text().splitlines()
    assert len(lines) == 2 == len(report.tasks)
    printed = " ".join(capsys.readouterr().out.split())
    assert "search-QA synthesis: 2 task(s) kept" in printed and "check: the search env's reference" in printed


def test_baselines_differ_in_strength():
    async def answers():
        session = ToolSession()
        return [a.name for a in baseline_answerers(session)], isinstance(baseline_answerers(session)[-1], OneHop)

    names, last_is_one_hop = asyncio.run(answers())
    assert names == ["first_hit_title", "snippet_guess", "one_hop"] and last_is_one_hop
