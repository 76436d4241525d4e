"""code_repair's default task set: real bugs in pinned PyPI projects, shipped as package data, offline on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from agentgym.api import Action, ToolCall
from agentgym.envs.code_repair import CodeRepairEnv, fixture_tasks
from agentgym.envs.code_repair.builtin import DATA_DIR, TASK_FILE, _bundle
from agentgym.synth.code.projects import DEFAULT_PROJECTS

MAX_BUNDLE_BYTES = 300 * 1024

FIRST_USE = """
import json, socket, subprocess, sys, time

def refuse(*args, **kwargs):
    raise AssertionError("first use must not start processes or open connections")

subprocess.Popen = subprocess.run = refuse  # pip (sdist download, venv) would come through here
socket.socket.connect = socket.create_connection = refuse
started = time.monotonic()
from agentgym.envs.code_repair import CodeRepairEnv
from agentgym.envs.code_repair.snapshot import materialize, tree_sha256
from agentgym.envs.code_repair.taskdata import expand_path

tasks = CodeRepairEnv().sample_tasks(16, seed=0)
hashes_ok = all(tree_sha256(materialize(expand_path(t.data["repo"]))) == t.data["repo_sha256"] for t in tasks)
print(json.dumps({"seconds": time.monotonic() - started, "ids": sorted({t.id for t in tasks}),
                  "hashes_ok": hashes_ok, "synth": sorted(m for m in sys.modules if m.startswith("agentgym.synth"))}))
"""


def test_default_set_is_real_tasks_from_pinned_projects():
    tasks = CodeRepairEnv().sample_tasks(16, seed=0)
    pinned = {spec.label for spec in DEFAULT_PROJECTS}
    assert len({t.id for t in tasks}) >= 8
    assert {t.meta["project"] for t in tasks} == {"isodate==0.7.2", "cachetools==8.0.1"} <= pinned
    for t in tasks:
        assert t.meta["generator"] == "agentgym.synth.code" and t.meta["source"] == "pypi-sdist"
        assert t.data["repo"].startswith("$AGENTGYM_CACHE/code_repair/builtin/") and "venv" not in t.data
        assert t.data["fail_to_pass"] and t.data["pass_to_pass"] and t.data["pythonpath"] == ["src"]
    assert "minilib" not in json.dumps([t.model_dump(mode="json") for t in tasks])


def test_sample_tasks_is_seeded_and_repeats_with_new_ids():
    env = CodeRepairEnv()
    assert env.sample_tasks(6, seed=3) == env.sample_tasks(6, seed=3)
    assert [t.id for t in env.sample_tasks(6, seed=3)] != [t.id for t in env.sample_tasks(6, seed=4)]
    more = env.sample_tasks(40, seed=0)
    assert len({t.id for t in more}) == 40 and more[16].id == more[0].id + "-1"


def test_the_toy_library_is_an_explicit_option():
    assert CodeRepairEnv(tasks="fixture").sample_tasks(3, seed=2) == fixture_tasks(3, seed=2)
    with pytest.raises(ValueError, match=r"^tasks must be one of \('builtin', 'fixture'\), got 'minilib'$"):
        CodeRepairEnv(tasks="minilib")


def test_bundle_is_small_and_complete():
    files = sorted(p.name for p in DATA_DIR.iterdir())
    assert files == ["cachetools-8.0.1.tar.gz", "isodate-0.7.2.tar.gz", "tasks.jsonl.gz"]
    assert sum((DATA_DIR / f).stat().st_size for f in files) <= MAX_BUNDLE_BYTES
    shipped, _ = _bundle()
    assert len(shipped) == 16 and {t.data["repo"] for t in shipped} == set(files) - {TASK_FILE.name}


def test_first_use_is_offline_and_fast(tmp_path):
    env = {**os.environ, "AGENTGYM_CACHE": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", FIRST_USE], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["synth"] == [] and report["hashes_ok"] and len(report["ids"]) == 16
    assert report["seconds"] < 10, report
    [unpacked] = (tmp_path / "cache" / "code_repair" / "builtin").iterdir()  # one bundle, atomically in place
    assert sorted(p.name for p in unpacked.iterdir()) == ["cachetools-8.0.1", "isodate-0.7.2"]


async def test_reference_scores_one_and_an_untouched_repository_zero():
    served = {t.meta["project"]: t for t in CodeRepairEnv().sample_tasks(16, seed=0)}
    shipped, _ = _bundle()  # as written in the file: `repo` relative to the data folder
    cases = [(CodeRepairEnv(), served["isodate==0.7.2"]),
             (CodeRepairEnv(root=DATA_DIR), next(t for t in shipped if t.meta["project"] == "cachetools==8.0.1"))]
    for env, task in cases:
        try:
            await env.reset(task, seed=0)
            fixed = await env.step(env.reference_action(task))
            assert fixed.reward == 1.0, (task.id, fixed.verdict)
            await env.reset(task, seed=0)
            untouched = await env.step(Action(tool_calls=[ToolCall(id="s", name="submit", arguments={})]))
            assert untouched.reward == 0.0
            assert untouched.info["grading"]["fail_to_pass_failed"] == task.data["fail_to_pass"]
            assert untouched.info["grading"]["pass_to_pass_failed"] == []
        finally:
            await env.close()


@pytest.mark.slow
def test_envs_check_passes_on_the_default_set():
    from agentgym.app import cli

    result = CliRunner().invoke(cli.app, ["envs", "check", "code_repair"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("env 'code_repair' passes all")



@pytest.mark.slow
async def test_every_shipped_reference_solution_scores_one():
    env = CodeRepairEnv()
    try:
        for task in env.sample_tasks(16, seed=0):
            await env.reset(task, seed=0)
            result = await env.step(env.reference_action(task))
            assert result.reward == 1.0, (task.id, result.verdict)
    finally:
        await env.close()
