"""A filter run killed with SIGKILL mid-round resumes from its state file: same decisions, no episode played twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agentgym.synth.filter import run_filter
from agentgym.synth.filter_rules import FilterConfig
from agentgym.synth.filter_state import FilterStateError, load_state, task_set_hash

import agentgym
from agentgym.api import Action, ToolCall
from agentgym.rollout import PolicyStep

CHILD = """
import asyncio, sys
import agentgym
from agentgym.api import Action, ToolCall
from agentgym.rollout import PolicyStep
from agentgym.synth.filter import run_filter
from agentgym.synth.filter_rules import FilterConfig

class Slow:
    def __init__(self, tasks):
        self.by_prompt = {t.prompt: t for t in tasks}
    async def act(self, messages, tools):
        await asyncio.sleep(0.02)
        task = self.by_prompt[next(m.content for m in messages if m.role == "user")]
        answer = task.data["answer"] + (0 if task.meta["plan"] == "always" else 1)
        return PolicyStep(action=Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": answer})]))

tasks = agentgym.make("arith").sample_tasks(6, seed=9)
tasks = [t.model_copy(update={"meta": {"plan": "always" if i % 3 == 0 else "never"}}) for i, t in enumerate(tasks)]
asyncio.run(run_filter(tasks, Slow(tasks), FilterConfig(concurrency=2), state_path=sys.argv[1], progress=False))
"""


def make_tasks():
    tasks = agentgym.make("arith").sample_tasks(6, seed=9)
    return [t.model_copy(update={"meta": {"plan": "always" if i % 3 == 0 else "never"}}) for i, t in enumerate(tasks)]


class Counting:
    def __init__(self, tasks):
        self.by_prompt = {t.prompt: t for t in tasks}
        self.num_calls = 0

    async def act(self, messages, tools):
        self.num_calls += 1
        task = self.by_prompt[next(m.content for m in messages if m.role == "user")]
        answer = task.data["answer"] + (0 if task.meta["plan"] == "always" else 1)
        return PolicyStep(action=Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": answer})]))


def wait_for(predicate, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the child filter run did not get far enough")
        time.sleep(0.01)


@pytest.mark.slow
def test_sigkill_mid_round_then_resume_matches_an_uninterrupted_run(tmp_path):
    state = tmp_path / "run.state.jsonl"
    round1 = tmp_path / "run.state.jsonl.round1.jsonl.partial"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(state)], cwd=Path(__file__).parents[2])
    try:
        wait_for(lambda: round1.exists() and len(round1.read_text().splitlines()) >= 5)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    saved = [json.loads(line) for line in state.read_text().splitlines()]
    assert saved[0]["next_round"] == 1  # round 0 was folded in; round 1 was cut off mid-way
    num_round1_done = len([line for line in round1.read_text().splitlines() if line.strip()])

    tasks = make_tasks()
    policy = Counting(tasks)
    resumed = asyncio.run(run_filter(tasks, policy, FilterConfig(concurrency=2), state_path=state, progress=False))
    fresh = asyncio.run(run_filter(tasks, Counting(tasks), FilterConfig(concurrency=2), progress=False))
    assert [s.to_dict() for s in resumed.states] == [s.to_dict() for s in fresh.states]
    assert policy.num_calls == fresh.num_episodes - 6 * 8 - num_round1_done  # nothing finished was replayed
    assert sorted(t.id for t in resumed.kept) == sorted(t.id for t in tasks[::3])
    assert not list(tmp_path.glob("run.state.jsonl.round*"))  # round files are removed once folded in


def test_a_state_file_from_other_settings_is_refused(tmp_path):
    tasks = make_tasks()
    state = tmp_path / "s.jsonl"
    asyncio.run(run_filter(tasks, Counting(tasks), FilterConfig(k=10), state_path=state, progress=False))
    with pytest.raises(FilterStateError, match="was written with other filter settings"):
        load_state(state, config=FilterConfig(k=20), tasks_hash=task_set_hash(tasks))
    with pytest.raises(FilterStateError, match="was written for a different task file"):
        load_state(state, config=FilterConfig(k=10), tasks_hash=task_set_hash(tasks[:2]))
