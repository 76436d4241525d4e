"""`agentgym filter` and `agentgym synth search` through the CLI: outputs written, summaries printed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import agentgym
from agentgym.app.cli import app
from agentgym.taskio import load_tasks, save_tasks


def test_filter_drops_tasks_a_wrong_policy_never_solves_with_far_fewer_than_k_attempts(tmp_path):
    tasks = agentgym.make("arith").sample_tasks(3, seed=0)
    save_tasks(tmp_path / "tasks.jsonl", tasks)
    (tmp_path / "wrong.jsonl").write_text(json.dumps(
        {"tool_calls": [{"id": "s", "name": "submit", "arguments": {"answer": -123456789}}]}) + "\n")
    out = tmp_path / "kept.jsonl"
    result = CliRunner().invoke(app, ["filter", "--tasks", str(tmp_path / "tasks.jsonl"),
                                      "--policy", f"scripted:{tmp_path / 'wrong.jsonl'}", "--k", "100",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not out.exists() or out.read_text().strip() == ""
    dropped = [json.loads(line) for line in (tmp_path / "kept.dropped.jsonl").read_text().splitlines()]
    assert sorted(t["id"] for t in dropped) == sorted(t.id for t in tasks)
    attempts = [t["meta"]["passk"][-1]["num_episodes"] for t in dropped]
    assert all(a < 100 for a in attempts)  # the SPRT stopped each task early


def test_synth_search_writes_verified_tasks_and_prints_the_funnel(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["synth", "search", "--out", str(tmp_path / "sqa"), "--n", "3"])
    assert result.exit_code == 0, result.output
    assert "verified" in result.output and "solve all 3 task(s)" in result.output
    tasks = load_tasks(tmp_path / "sqa" / "tasks.jsonl")
    assert len(tasks) == 3 and all(t.env == "search" and t.data["answer"] for t in tasks)


def test_synth_general_then_check_the_env_on_the_synthesized_tasks(tmp_path):
    out = tmp_path / "general"
    result = CliRunner().invoke(app, ["synth", "general", "--category", "library", "--n", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "checks passed" in result.output and "stored 4 tasks" in result.output
    tasks = load_tasks(out / "tasks.jsonl")
    assert len(tasks) == 4 and all(t.env == "general" for t in tasks)
    result = CliRunner().invoke(app, ["envs", "check", "general", "--tasks", str(out / "tasks.jsonl")])
    assert result.exit_code == 0, result.output


def test_synth_general_unknown_category_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["synth", "general", "--category", "nope", "--n", "2", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "unknown categories ['nope']" in result.output


def test_synth_code_lists_default_projects_and_requires_a_project():
    result = CliRunner().invoke(app, ["synth", "code", "--list"])
    assert result.exit_code == 0 and "toolz==" in result.output and "inflection==" in result.output
    result = CliRunner().invoke(app, ["synth", "code"])
    assert result.exit_code == 2 and "--project is required" in result.output
