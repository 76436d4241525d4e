"""The agent loop and the concurrent runner: order, budgets, failure labels, crash-safe output and resume."""

from __future__ import annotations

import asyncio
import json

import pytest

import agentgym
from agentgym.api import Action, Observation, StepResult, Task, ToolCall
from agentgym.envs.arith.solver import arith_solver
from agentgym.rollout import RolloutConfig, ScriptedPolicy, read_trajectories, run_episode, run_episodes
from agentgym.rollout.jsonl import TrajectoryWriter


def arith_tasks(n: int = 6):
    return agentgym.make("arith").sample_tasks(n, seed=1)


def test_scripted_solver_solves_arith_in_two_turns():
    task = arith_tasks(1)[0]
    traj = asyncio.run(run_episode(agentgym.make("arith"), ScriptedPolicy(arith_solver), task, seed=3))
    assert traj.terminated and not traj.truncated
    assert traj.reward == 1.0 and traj.verdict is not None and traj.verdict.passed
    assert traj.num_turns == 2 and len(traj.turns) == 2
    roles = [m.role for m in traj.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert traj.messages[3].name == "calculator" and traj.messages[3].content == str(task.data["answer"])


def test_env_turn_budget_truncates_with_reason():
    policy = ScriptedPolicy(lambda msgs, tools: Action(text="thinking..."))
    traj = asyncio.run(run_episode(agentgym.make("arith", max_turns=3), policy, arith_tasks(1)[0]))
    assert traj.truncated and not traj.terminated
    assert traj.truncation_reason == "turn budget of 3 steps reached"
    assert traj.num_tool_errors == 3 and traj.reward == 0.0 and traj.error == "model_error"


def test_loop_turn_budget_truncates_when_env_has_none():
    policy = ScriptedPolicy(lambda msgs, tools: Action(text="hm"))
    traj = asyncio.run(run_episode(agentgym.make("arith", max_turns=100), policy, arith_tasks(1)[0], max_turns=2))
    assert traj.truncated and traj.truncation_reason == "agent loop turn budget of 2 reached"
    assert traj.num_turns == 2


class ExplodingEnv:
    name = "exploding"

    def __init__(self, where: str) -> None:
        self.where = where

    def tools(self):
        return []

    async def reset(self, task, *, seed=None):
        if self.where == "reset":
            raise RuntimeError("sandbox failed to start")
        return Observation(messages=[agentgym.Message(role="user", content=task.prompt)])

    async def step(self, action):
        raise OSError("kernel died")

    async def close(self):
        pass


@pytest.mark.parametrize("where, expected", [("reset", "env.reset: RuntimeError: sandbox failed to start"),
                                             ("step", "env.step: OSError: kernel died")])
def test_env_failures_are_labelled_env_error(where, expected):
    task = Task(id="t", env="exploding", prompt="hi")
    traj = asyncio.run(run_episode(ExplodingEnv(where), ScriptedPolicy(["x"]), task))
    assert traj.error == "env_error"
    assert traj.info["failure"] == expected
    assert "Traceback" in traj.info["traceback"]


def test_policy_failure_is_env_error():
    async def broken(msgs, tools):
        raise ConnectionError("endpoint down")

    traj = asyncio.run(run_episode(agentgym.make("arith"), ScriptedPolicy(broken), arith_tasks(1)[0]))
    assert traj.error == "env_error" and traj.info["failure"] == "policy.act: ConnectionError: endpoint down"


def test_run_episodes_order_seeds_and_file(tmp_path):
    tasks = arith_tasks(5)
    out = tmp_path / "trajs.jsonl"
    config = RolloutConfig(num_samples=3, concurrency=4, progress=False, seed=10)
    trajs = asyncio.run(run_episodes(lambda: agentgym.make("arith"), ScriptedPolicy(arith_solver), tasks, config,
                                     out=out))
    assert [t.info["episode"] for t in trajs] == [f"{t.id}#{j}" for t in tasks for j in range(3)]
    assert [t.seed for t in trajs[:4]] == [10, 11, 12, 10 + 1_000_003]
    assert all(t.reward == 1.0 for t in trajs)
    assert out.exists() and not (tmp_path / "trajs.jsonl.partial").exists()
    on_disk = list(read_trajectories(out))
    assert sorted(t.info["episode"] for t in on_disk) == sorted(t.info["episode"] for t in trajs)


def test_a_task_listed_twice_is_played_twice_not_merged():
    task = arith_tasks(1)[0]
    config = RolloutConfig(num_samples=2, progress=False, seed=3)
    trajs = asyncio.run(run_episodes(lambda: agentgym.make("arith"), ScriptedPolicy(arith_solver), [task, task],
                                     config))
    assert len(trajs) == 4 and len({id(t) for t in trajs}) == 4
    assert [t.info["episode"] for t in trajs] == [f"{task.id}#0", f"{task.id}#1", f"{task.id}@1#0", f"{task.id}@1#1"]
    assert [t.seed for t in trajs] == [3, 4, 3 + 1_000_003, 4 + 1_000_003]


def test_same_seed_per_task():
    config = RolloutConfig(num_samples=3, progress=False, seed=5, same_seed_per_task=True)
    trajs = asyncio.run(run_episodes(lambda: agentgym.make("arith"), ScriptedPolicy(arith_solver), arith_tasks(2),
                                     config))
    assert [t.seed for t in trajs] == [5, 5, 5, 5 + 1_000_003, 5 + 1_000_003, 5 + 1_000_003]


def test_concurrency_is_bounded_and_used():
    active = 0
    peak = 0

    async def slow(msgs, tools):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return arith_solver(msgs, tools)

    config = RolloutConfig(num_samples=2, concurrency=5, progress=False)
    asyncio.run(run_episodes(lambda: agentgym.make("arith"), ScriptedPolicy(slow), arith_tasks(10), config))
    assert peak == 5


def test_crash_keeps_finished_episodes_and_resume_skips_them(tmp_path):
    tasks = arith_tasks(6)
    out = tmp_path / "run.jsonl"
    calls = {"n": 0}

    def crashing(msgs, tools):
        calls["n"] += 1
        if calls["n"] > 8:  # 4 episodes (2 turns each) finish, then the "machine" dies
            raise KeyboardInterrupt
        return arith_solver(msgs, tools)

    config = RolloutConfig(concurrency=1, progress=False)
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(run_episodes(lambda: agentgym.make("arith"), ScriptedPolicy(crashing), tasks, config, out=out))
    partial = tmp_path / "run.jsonl.partial"
    assert not out.exists() and partial.exists()
    kept = [json.loads(line)["info"]["episode"] for line in partial.read_text().splitlines()]
    assert kept == [f"{t.id}#0" for t in tasks[:4]]
    with open(partial, "a") as f:
        f.write('{"task_id": "torn')  # a torn last line from the crash is tolerated
    seen = []

    def counting(msgs, tools):
        seen.append(next(m.content for m in msgs if m.role == "user"))
        return arith_solver(msgs, tools)

    trajs = asyncio.run(run_episodes(lambda: agentgym.make("arith"), ScriptedPolicy(counting), tasks, config,
                                     out=out, resume=True))
    assert len(trajs) == 6 and all(t.reward == 1.0 for t in trajs)
    assert len(seen) == 4  # only the 2 unfinished episodes ran (2 turns each)
    assert out.exists() and not partial.exists()
    assert len(out.read_text().splitlines()) == 6


def test_writer_without_resume_discards_stale_partial(tmp_path):
    out = tmp_path / "x.jsonl"
    (tmp_path / "x.jsonl.partial").write_text("garbage\n")
    w = TrajectoryWriter(out)
    w.write(agentgym.Trajectory(task_id="a", env="arith"))
    w.finish()
    assert [t.task_id for t in read_trajectories(out)] == ["a"]


def test_run_episodes_rejects_bad_config():
    with pytest.raises(ValueError, match="^concurrency must be a positive integer, got 0$"):
        RolloutConfig(concurrency=0)


def test_env_step_result_model_error_counts():
    task = arith_tasks(1)[0]
    script = [Action(tool_calls=[ToolCall(id="a", name="calculator", arguments={"expr": "1"})]),
              Action(tool_calls=[ToolCall(id="b", name="submit", arguments={"answer": task.data["answer"]})])]
    traj = asyncio.run(run_episode(agentgym.make("arith"), ScriptedPolicy(script), task))
    assert traj.num_tool_errors == 1 and traj.reward == 1.0
    assert isinstance(StepResult(observation=Observation()), StepResult)
