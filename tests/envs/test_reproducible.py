"""Reproducible episodes: the same task, seed and actions give byte-identical transcripts in every built-in env.

Each env plays a fixed script (bad calls, exploration, a wrong answer, the reference solution) twice per seed, each
time in a fresh env instance, and the serialized transcripts (observations, rewards, verdicts, errors, info) must be
equal byte for byte. Where an env uses the seed (the jupyter kernel's `random`/`numpy.random`), another seed must
change what the agent sees.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentgym.api import Action, Task, ToolCall

sys.path.insert(0, str(Path(__file__).parent / "search"))


def call(name: str, **arguments: Any) -> Action:
    return Action(tool_calls=[ToolCall(id=f"c-{name}", name=name, arguments=arguments)])


async def transcript(make_env: Callable[[], Any], task: Task, seed: int, script: list[Action]) -> str:
    """Play `script` on a fresh env (stopping at the episode's end) and serialize everything the env returned."""
    env = make_env()
    try:
        observation = await env.reset(task, seed=seed)
        records: list[Any] = [observation.model_dump(mode="json")]
        for action in script:
            result = await env.step(action)
            records.append(result.model_dump(mode="json"))
            if result.terminated or result.truncated:
                break
        return json.dumps(records, sort_keys=True, ensure_ascii=False)
    finally:
        await env.close()


async def assert_reproducible(make_env, task: Task, scripts: list[list[Action]], seeds=(0, 1)) -> list[str]:
    """Each script twice per seed; returns the first transcript of each (script, seed) for further checks."""
    firsts = []
    for script in scripts:
        for seed in seeds:
            first = await transcript(make_env, task, seed, script)
            second = await transcript(make_env, task, seed, script)
            assert first == second, f"{task.env}: seed {seed} gave two different transcripts:\n{first}\n{second}"
            firsts.append(first)
    assert json.loads(firsts[-1])[-1]["reward"] == 1.0, "the last script (the reference solution) must solve the task"
    return firsts


def reference_steps(env: Any, task: Task) -> list[Action]:
    """The reference solution, one tool call per step."""
    return [Action(tool_calls=[c]) for c in env.reference_action(task).tool_calls]


def wrong_answer(value: Any) -> Action:
    return call("submit", answer=value)


BAD = [Action(text="I will not call a tool."), call("no_such_tool", x=1),
       Action(text='<tool_call>{"name": "submit", "arguments": {oops}</tool_call>')]


async def test_arith():
    import agentgym

    env = agentgym.make("arith")
    for task in env.sample_tasks(3, seed=7):
        await assert_reproducible(lambda: agentgym.make("arith"), task, [
            [*BAD, call("calculator", expression="(3 + 4) * 5 // 0"), call("calculator", expression="2 ** 10"),
             wrong_answer(-1)],
            reference_steps(env, task),
        ])


async def test_rpt():
    import agentgym

    env = agentgym.make("rpt")
    for task in env.sample_tasks(3, seed=3):
        await assert_reproducible(lambda: agentgym.make("rpt", max_turns=8), task, [
            [Action(text="Maybe \\boxed{unclosed"), Action(text="no box at all"), call("submit", answer=7),
             Action(text="So it is \\boxed{zzz}")],
            reference_steps(env, task),
        ])


async def test_search():
    from agentgym.envs.search import SearchEnv
    from search_fixtures import python_docs_index

    index = python_docs_index()
    env = SearchEnv(index_dir=str(index))
    for task in env.sample_tasks(2, seed=11):
        hits = await transcript(lambda: SearchEnv(index_dir=str(index)), task, 0,
                                [call("search", query=task.prompt[:80], k=3)])
        doc_id = json.loads(hits)[1]["observation"]["messages"][0]["content"].split("'")[1]
        await assert_reproducible(lambda: SearchEnv(index_dir=str(index)), task, [
            [*BAD, call("search", query=task.prompt[:80], k=5), call("open", doc_id=doc_id, offset=100),
             call("find", doc_id=doc_id, pattern="the"), call("open", doc_id="no/such-doc"),
             call("search", query="   "), wrong_answer("definitely not it")],
            reference_steps(env, task),
        ])


async def test_general():
    from agentgym.envs.general.env import GeneralEnv

    env = GeneralEnv()
    for task in env.sample_tasks(2, seed=5):
        script = [*BAD, *reference_steps(env, task)[:-1], call("list_team", team=123), wrong_answer({"x": 1})]
        await assert_reproducible(GeneralEnv, task, [script, reference_steps(env, task)])


@pytest.mark.slow
async def test_jupyter_and_its_seed_reaches_the_kernel():
    from agentgym.envs.jupyter import JupyterEnv, KernelConfig, KernelPool

    with KernelPool(KernelConfig(cell_timeout_s=3.0, interrupt_grace_s=1.0), size=0) as pool:  # fresh kernels
        env = JupyterEnv(pool=pool)
        task = env.sample_tasks(1, seed=2)[0]
        randomness = call("execute", code="import random, numpy as np\nprint(random.random(), np.random.rand())")
        script = [*BAD, randomness,
                  call("execute", code="s = {'pear', 'apple', 'fig', 'kiwi'}\nprint(s, hash('abc'))\nx = 1/0"),
                  call("execute", code="import os; print(sorted(os.listdir('.')), x)"),
                  call("execute", code="print(undefined_name)"), wrong_answer("-1")]
        first = await assert_reproducible(lambda: JupyterEnv(pool=pool), task, [script, reference_steps(env, task)])
        random_output = [json.loads(t)[4]["observation"]["messages"][0]["content"] for t in first[:2]]
        assert random_output[0] != random_output[1], "seeds 0 and 1 gave the kernel the same random state"


@pytest.mark.slow
async def test_code_repair():
    from agentgym.envs.code_repair import CodeRepairEnv, fixture_tasks

    task = fixture_tasks(1, seed=0)[0]
    env = CodeRepairEnv(bash_timeout_s=10)
    explore = [*BAD, call("list_dir", path="."), call("read_file", path="tests/test_seqs.py", start=1, end=5),
               call("bash", cmd="echo hello; ls | sort; exit 3"),
               call("run_tests", ids=list(task.data["fail_to_pass"])), call("edit_file", path="nope.py", old="a", new="b"),
               *reference_steps(env, task)]
    await assert_reproducible(lambda: CodeRepairEnv(bash_timeout_s=10), task, [explore], seeds=(0,))
