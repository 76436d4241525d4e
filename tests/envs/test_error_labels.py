"""Error labels in every built-in env: the agent's mistakes are `model_error`, the env's own failures `env_error`.

For each env a provoked model failure (bad call, wrong answer, its own code timing out or killing its interpreter)
and, where the env has infrastructure, a provoked infra failure (sandbox closed under it, kernel or worker killed
between calls, index missing, kernel that cannot start) are played through the agent loop, and both the failing
step's `StepResult.error` and the episode's `Trajectory.error` are checked.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from agentgym.api import Action, Task, ToolCall
from agentgym.rollout import ScriptedPolicy, run_episode

sys.path.insert(0, str(Path(__file__).parent / "search"))


def call(name: str, **arguments: Any) -> Action:
    return Action(tool_calls=[ToolCall(id=f"c-{name}", name=name, arguments=arguments)])


async def play(env, task: Task, *actions: Action, between=None):
    """Reset, then step through `actions`, calling `between(env)` after the first step; returns the StepResults."""
    await env.reset(task, seed=0)
    results = []
    for i, action in enumerate(actions):
        if i == 1 and between is not None:
            await between(env)
        results.append(await env.step(action))
        if results[-1].terminated or results[-1].truncated:
            break
    return results


async def episode(env, task: Task, *actions: Action):
    try:
        return await run_episode(env, ScriptedPolicy(list(actions)), task, seed=0, max_turns=len(actions) + 1)
    finally:
        await env.close()


# --- arith and rpt: no infrastructure; every failure is the model's ------------------------------------------------
async def test_arith_model_errors_and_an_env_bug_is_an_env_error(monkeypatch):
    import agentgym

    task = agentgym.make("arith").sample_tasks(1, seed=0)[0]
    results = await play(agentgym.make("arith"), task, call("calculator", expression="1 +"),
                         call("nope"), call("submit", answer=-12345))
    assert [r.error for r in results] == ["model_error", "model_error", None]
    wrong = await episode(agentgym.make("arith"), task, call("submit", answer=-12345))
    assert wrong.error == "model_error" and wrong.info["failure"].startswith("answer rejected: answer -12345 !=")
    right = await episode(agentgym.make("arith"), task, call("submit", answer=task.data["answer"]))
    assert right.error is None and right.reward == 1.0

    def broken(expression: str) -> int:
        raise OSError("disk gone")  # a bug in the env's own code, not the agent's input

    monkeypatch.setattr("agentgym.envs.arith.env.evaluate", broken)
    result = (await play(agentgym.make("arith"), task, call("calculator", expression="1+1")))[0]
    assert result.error == "env_error" and "this is not your fault" in result.observation.messages[0].content


async def test_rpt_format_mistakes_and_wrong_answers_are_model_errors():
    import agentgym

    task = agentgym.make("rpt").sample_tasks(1, seed=0)[0]
    results = await play(agentgym.make("rpt"), task, Action(text="no box"), Action(text="\\boxed{zzzz}"))
    assert [r.error for r in results] == ["model_error", None] and results[1].reward == 0.0
    trajectory = await episode(agentgym.make("rpt", max_turns=2), task, Action(text="no"), Action(text="still no"))
    assert trajectory.truncated and trajectory.error == "model_error" and trajectory.num_tool_errors == 2


# --- search ----------------------------------------------------------------------------------------------------------
async def test_search_missing_index_is_an_env_error_and_bad_ids_are_model_errors(tmp_path):
    from agentgym.envs.search import SearchEnv
    from search_fixtures import SMALL_CORPUS, write_small_corpus

    task = Task(id="s1", env="search", prompt="What does the anemometer measure?", data={"answer": "wind speed"})
    missing = SearchEnv(source=str(tmp_path / "corpus-that-is-gone"), index_dir=str(tmp_path / "index"))
    trajectory = await episode(missing, task, call("search", query="anemometer"), call("submit", answer="wind speed"))
    assert trajectory.error == "env_error"  # even though the answer was right: the episode is not trusted
    assert "this is not your fault" in trajectory.messages[3].content

    corpus = write_small_corpus(tmp_path / "corpus")
    assert SMALL_CORPUS
    env = SearchEnv(source=str(corpus), index_dir=str(tmp_path / "built"))
    results = await play(env, task, call("open", doc_id="no/such.md"), call("search", query="   "),
                         call("submit", answer="rain"))
    assert [r.error for r in results] == ["model_error", "model_error", None] and results[2].reward == 0.0
    ok = await episode(SearchEnv(source=str(corpus), index_dir=str(tmp_path / "built")), task,
                       call("search", query="anemometer"), call("submit", answer="wind speed"))
    assert ok.error is None and ok.reward == 1.0


# --- general ---------------------------------------------------------------------------------------------------------
async def test_general_killed_worker_is_an_env_error_and_bad_arguments_are_model_errors():
    from agentgym.envs.general.env import GeneralEnv

    env = GeneralEnv()
    task = env.sample_tasks(1, seed=0)[0]
    first = task.data["reference"]["calls"][0]
    try:
        async def kill_worker(e):
            await asyncio.to_thread(e.runtime._proc.stop)  # the sandboxed worker dies under the env

        results = await play(env, task, call(first["name"], **first["arguments"]),
                             call(first["name"], **first["arguments"]), call(first["name"], **first["arguments"]),
                             between=kill_worker)
        assert [r.error for r in results] == [None, "env_error", None]  # the worker is restarted for the next call
        assert "this is not your fault" in results[1].observation.messages[0].content
        bad = await play(env, task, call(first["name"], unexpected=1), call("submit", answer={"x": 1}))
        assert [r.error for r in bad] == ["model_error", "model_error"]  # unknown argument; answer off its schema
        assert "error:" in bad[1].observation.messages[0].content and not bad[1].terminated
    finally:
        await env.close()


# --- jupyter ---------------------------------------------------------------------------------------------------------
@pytest.mark.slow
async def test_jupyter_labels():
    from agentgym.envs.jupyter import JupyterEnv, KernelConfig, KernelPool

    config = KernelConfig(cell_timeout_s=1.0, interrupt_grace_s=1.0)
    with KernelPool(config, size=1) as pool:
        env = JupyterEnv(pool=pool)
        task = env.sample_tasks(1, seed=0)[0]

        async def kill_kernel(e):
            await asyncio.to_thread(e.kernel._process.stop)  # dies between cells: not the agent's doing

        results = await play(env, task, call("execute", code="x = 1"), call("execute", code="print(2)"),
                             call("execute", code="print(3)"), between=kill_kernel)
        assert [r.error for r in results] == [None, "env_error", None]
        assert results[2].observation.messages[0].content.strip().endswith("3")  # restarted for the next call
        mistakes = await play(env, task, call("execute", code="import os; os._exit(3)"),
                              call("execute", code="while True: pass"), call("execute", code="1/0"))
        assert [r.error for r in mistakes] == ["model_error", "model_error", None]  # an exception is a result
        await env.close()

    broken = KernelPool(KernelConfig(python_executable="/nonexistent/python", startup_timeout_s=5.0), size=0)
    with broken:
        trajectory = await episode(JupyterEnv(pool=broken), task, call("submit", answer=task.data["answer"]))
    assert trajectory.error == "env_error" and trajectory.info["failure"].startswith("env.reset: KernelStartError")


# --- code_repair -----------------------------------------------------------------------------------------------------
@pytest.mark.slow
async def test_code_repair_labels():
    from agentgym.envs.code_repair import CodeRepairEnv, fixture_tasks

    task = fixture_tasks(1, seed=0)[0]
    env = CodeRepairEnv(bash_timeout_s=0.5)
    try:
        results = await play(env, task, call("bash", cmd="sleep 5"), call("read_file", path="nope.py"),
                             call("bash", cmd="exit 4"))
        assert [r.error for r in results] == ["model_error", "model_error", None]
        assert "wall-clock timeout" in results[0].observation.messages[0].content

        async def break_sandbox(e):
            await asyncio.to_thread(e.box.close)  # the sandbox is torn down under the env

        results = await play(env, task, call("bash", cmd="true"), call("bash", cmd="ls"), between=break_sandbox)
        assert [r.error for r in results] == [None, "env_error"]
    finally:
        await env.close()
    gone = task.model_copy(update={"data": {**task.data, "repo": "/nonexistent/repo"}})
    trajectory = await episode(CodeRepairEnv(), gone, call("submit"))
    assert trajectory.error == "env_error" and trajectory.info["failure"].startswith("env.reset:")
    wrong = await episode(CodeRepairEnv(), task, call("submit"))
    assert wrong.error == "model_error" and "FAIL_TO_PASS" in wrong.info["failure"]
