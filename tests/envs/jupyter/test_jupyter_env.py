"""JupyterEnv: the env contract (check_env + gymnasium), the oracle policy solves tasks, wrong answers score 0."""

from __future__ import annotations

import pytest

from agentgym.checker import check_env
from agentgym.envs.jupyter import JupyterEnv, generate_tasks
from agentgym.envs.jupyter.oracle import printed_answer, solve, submit_wrong


@pytest.mark.slow
def test_check_env_passes_on_a_shared_pool(jupyter_pool):
    results = check_env(lambda: JupyterEnv(pool=jupyter_pool))
    assert all(r.passed for r in results)
    assert {r.name for r in results} >= {"tools", "reference solves", "wrong answer fails", "bad actions",
                                         "determinism", "close twice", "gymnasium"}  # fmt: skip
    assert jupyter_pool.num_in_use == 0  # every env gave its kernel back


def test_tools_and_the_no_argument_constructor():
    env = JupyterEnv()
    assert [t.name for t in env.tools()] == ["execute", "submit"]
    assert env.tools()[0].parameters["required"] == ["code"]
    assert env.kernel is None  # no kernel is taken before the first reset
    with pytest.raises(ValueError, match="difficulty"):
        JupyterEnv(difficulty=9)


@pytest.mark.slow
async def test_oracle_policy_computes_in_the_kernel_and_solves_at_least_95_percent(jupyter_pool):
    env = JupyterEnv(pool=jupyter_pool, difficulty=2)
    tasks = env.sample_tasks(21, seed=7)
    try:
        rewards = []
        for task in tasks:
            result = await solve(env, task)
            rewards.append(result.reward)
            assert result.terminated and result.verdict is not None
        assert sum(rewards) / len(rewards) >= 0.95, [t.id for t, r in zip(tasks, rewards) if r < 1]
        assert {t.data["family"] for t in tasks} == {"number_theory", "symbolic", "data_analysis"}
    finally:
        await env.close()


async def test_wrong_answer_policy_scores_zero_everywhere(jupyter_pool):
    env = JupyterEnv(pool=jupyter_pool)
    try:
        for task in generate_tasks(12, seed=7):
            result = await submit_wrong(env, task)
            assert result.terminated and result.reward == 0.0 and not result.verdict.passed, task.id
    finally:
        await env.close()


def test_printed_answer_reads_the_last_stdout_line():
    assert printed_answer("stdout:\nworking\n42") == "42"
    assert printed_answer("stdout:\n2*x + 1\nresult:\nNone") == "2*x + 1"
    assert printed_answer("error: NameError: name 'x' is not defined") == ""
