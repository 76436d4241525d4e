"""The `general` env: contract checks, reference solutions, sandboxed tools and verifiers, per-episode DB copies."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pytest
from agentgym.envs.general import EnvFolderError, GeneralEnv

from agentgym.api import Action, Task, ToolCall
from agentgym.checker import check_env

TOOLS = '''
def get(db, key):
    row = db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
    if row is None:
        raise KeyError("no key " + repr(key))
    return row[0]


def put(db, key, value):
    db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))
    return "ok"


def spin(db):
    while True:
        pass


def broken(db):
    return 1 / 0
'''
VERIFY_STATE = '''
def verify(answer, db):
    row = db.execute("SELECT v FROM kv WHERE k = 'b'").fetchone()
    return (row is not None and row[0] == answer["value"]), ["checked b"]
'''


def _param(**props):
    return {"type": "object", "properties": props, "required": list(props)}


def make_folder(root: Path) -> tuple[Path, str]:
    folder = root / "envs" / "kv"
    folder.mkdir(parents=True)
    db = sqlite3.connect(folder / "db.sqlite")
    db.execute("CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)")
    db.execute("INSERT INTO kv VALUES ('a', '1')")
    db.commit()
    digest = hashlib.sha256()
    for line in db.iterdump():
        digest.update(line.encode() + b"\n")
    db.close()
    (folder / "tools.py").write_text(TOOLS)
    tools_sha = hashlib.sha256(TOOLS.encode()).hexdigest()
    env_sha = hashlib.sha256(f"db:{digest.hexdigest()}\ntools:{tools_sha}".encode()).hexdigest()
    string = {"type": "string"}
    manifest = {"format": "agentgym-general-env/1", "env_id": "kv", "category": "test",
                "tools": [{"name": "get", "parameters": _param(key=string)},
                          {"name": "put", "parameters": _param(key=string, value=string), "kind": "write"},
                          {"name": "spin", "parameters": _param()}, {"name": "broken", "parameters": _param()}],
                "hashes": {"db": digest.hexdigest(), "tools": tools_sha}, "env_sha256": env_sha}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder, env_sha


def make_task(env_sha: str) -> Task:
    return Task(id="kv-1", env="general", prompt="Set b to 2 and report the value.",
                data={"env_dir": "envs/kv", "env_sha256": env_sha, "verifier_kind": "both",
                      "answer_schema": {"type": "object", "properties": {"value": {"type": "string"}},
                                        "required": ["value"]},
                      "verifier": VERIFY_STATE,
                      "reference": {"calls": [{"name": "put", "arguments": {"key": "b", "value": "2"}}],
                                    "answer": {"value": "2"}}})


@pytest.fixture
def kv(tmp_path):
    _, env_sha = make_folder(tmp_path)
    return tmp_path, make_task(env_sha)


def call(name: str, **arguments) -> Action:
    return Action(tool_calls=[ToolCall(id="c", name=name, arguments=arguments)])


@pytest.mark.slow
def test_contract_checker_passes_on_the_builtin_tasks():
    results = check_env(lambda: GeneralEnv())
    assert [r.name for r in results if r.passed][-1] == "gymnasium"
    assert all(r.passed for r in results)


async def test_builtin_tasks_cover_five_categories_and_reference_solves_them():
    env = GeneralEnv()
    try:
        tasks = env.sample_tasks(20, seed=0)
        assert len({t.meta["category"] for t in tasks}) >= 5
        for task in tasks:
            await env.reset(task, seed=0)
            result = await env.step(env.reference_action(task))
            assert result.reward == 1.0 and result.verdict.passed, (task.id, result.verdict)
    finally:
        await env.close()


async def test_tools_run_in_the_sandbox_with_errors_as_observations(kv):
    root, task = kv
    env = GeneralEnv(root=root, call_timeout_s=2.0)
    try:
        obs = await env.reset(task, seed=0)
        assert "JSON Schema" in obs.messages[-1].content and "verify" not in obs.text
        assert [s.name for s in env.tools()] == ["get", "put", "spin", "broken", "submit"]
        ok = await env.step(call("get", key="a"))
        assert ok.observation.messages[0].content == '"1"' and ok.error is None
        missing = await env.step(call("get", key="zz"))
        assert missing.error == "model_error" and "no key 'zz'" in missing.observation.messages[0].content
        bug = await env.step(call("broken"))
        assert bug.error == "env_error" and "ZeroDivisionError" in bug.observation.messages[0].content
        hang = await env.step(call("spin"))
        assert hang.error == "env_error" and "timed out" in hang.observation.messages[0].content
        after = await env.step(call("get", key="a"))  # the restarted worker still serves the episode
        assert after.observation.messages[0].content == '"1"'
        bad_schema = await env.step(call("submit", answer={"value": 2}))
        assert bad_schema.error == "model_error" and bad_schema.verdict is None
    finally:
        await env.close()


async def test_state_tasks_see_a_fresh_db_copy_each_episode(kv):
    root, task = kv
    env = GeneralEnv(root=root)
    try:
        await env.reset(task, seed=0)
        solved = await env.step(env.reference_action(task))
        assert solved.reward == 1.0
        await env.reset(task, seed=0)  # b must be gone again: the submit alone now fails the state check
        lazy = await env.step(call("submit", answer={"value": "2"}))
        assert lazy.reward == 0.0 and lazy.verdict is not None and not lazy.verdict.passed
    finally:
        await env.close()


async def test_tool_calls_are_fast(kv):
    root, task = kv
    env = GeneralEnv(root=root)
    try:
        await env.reset(task, seed=0)
        started = time.perf_counter()
        for _ in range(50):
            await env.step(call("get", key="a"))
            if not env.is_running:
                await env.reset(task, seed=0)
        per_call = (time.perf_counter() - started) / 50
        print(f"general env: {per_call * 1000:.2f} ms per sandboxed tool call")
        assert per_call < 0.05
    finally:
        await env.close()


async def test_an_edited_environment_is_refused(kv):
    root, task = kv
    (root / "envs" / "kv" / "tools.py").write_text(TOOLS + "\n# edited\n")
    env = GeneralEnv(root=root)
    try:
        with pytest.raises(EnvFolderError, match="does not match the hash"):
            await env.reset(task, seed=0)
    finally:
        await env.close()


async def test_a_task_pinned_to_another_environment_is_refused(kv):
    root, task = kv
    other = task.model_copy(update={"data": {**task.data, "env_sha256": "0" * 64}})
    env = GeneralEnv(root=root)
    try:
        with pytest.raises(EnvFolderError, match="was checked against environment 000000000000"):
            await env.reset(other, seed=0)
    finally:
        await env.close()


def test_bad_config_raises_naming_the_field():
    with pytest.raises(ValueError, match="max_turns must be a positive integer"):
        GeneralEnv(max_turns=0)
    with pytest.raises(ValueError, match="call_timeout_s must be positive"):
        GeneralEnv(call_timeout_s=0)
