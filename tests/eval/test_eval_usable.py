"""`agentgym eval` with a slow policy is usable: each env's own turn budget, --resume, progress lines, engine options."""

from __future__ import annotations

import io
import json

import pytest

from agentgym.api import Action
from agentgym.app.cli import app
from agentgym.errors import PolicySpecError
from agentgym.eval import EvalConfig, run_eval
from agentgym.eval.runner import default_max_turns
from agentgym.rollout import ScriptedPolicy, read_trajectories
from agentgym.rollout.progress import LineProgress, episode_progress
from agentgym.rollout.specs import POLICY_FORMS, engine_options


class Counting(ScriptedPolicy):
    """Chats without ever calling a tool; counts its turns."""

    def __init__(self) -> None:
        super().__init__(lambda messages, tools: Action(text="let me think"))
        self.num_calls = 0

    async def act(self, messages, tools):
        self.num_calls += 1
        return await super().act(messages, tools)


def test_the_default_turn_budget_is_the_envs_own(tmp_path):
    import agentgym

    assert default_max_turns(agentgym.make("arith")) == 4
    assert default_max_turns(agentgym.make("arith", max_turns=6)) == 6
    assert default_max_turns(object()) == 32
    policy = Counting()
    metrics = run_eval(EvalConfig(envs=("arith",), num_samples=1, num_tasks=2), policy, tmp_path)
    assert metrics[0].mean_turns == 4 and policy.num_calls == 8
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["max_turns"] == {"arith": 4} and run["config"]["max_turns"] is None
    assert "max turns: arith 4" in (tmp_path / "report.md").read_text()


def test_resume_plays_only_the_episodes_missing_from_the_partial_file(tmp_path):
    config = EvalConfig(envs=("arith",), num_samples=2, num_tasks=3)
    first = run_eval(config, "reference", tmp_path)
    out = tmp_path / "trajectories" / "arith.jsonl"
    lines = out.read_text().splitlines(keepends=True)
    assert len(lines) == 6
    out.unlink()  # an interrupted run: 4 of 6 episodes stored, and a torn fifth line
    (tmp_path / "trajectories" / "arith.jsonl.partial").write_text("".join(lines[:4]) + lines[4][:30])
    policy = Counting()
    resumed = run_eval(config, policy, tmp_path, resume=True)
    assert policy.num_calls == 2 * 4  # the two missing episodes, 4 turns each
    stored = list(read_trajectories(out))
    assert len(stored) == 6 and sorted(t.info["episode"] for t in stored) == sorted(
        json.loads(line)["info"]["episode"] for line in lines)
    assert resumed[0].num_episodes == 6 and resumed[0].mean_reward == pytest.approx(4 / 6)
    assert first[0].mean_reward == 1.0
    again = Counting()
    run_eval(config, again, tmp_path, resume=True)  # a finished run resumes to itself
    assert again.num_calls == 0 and len(list(read_trajectories(out))) == 6


def test_line_progress_prints_done_total_rate_and_eta():
    now = [0.0]
    stream = io.StringIO()
    progress = LineProgress(stream, every=2, every_s=60.0, clock=lambda: now[0])
    with progress:
        bar = progress.add_task("episodes", total=6, completed=1, reward=0.0)
        for _ in range(5):
            now[0] += 2.0
            progress.update(bar, advance=1, reward=0.5)
        now[0] += 100.0
        progress.tick()  # finished: no heartbeat
    assert stream.getvalue().splitlines() == [
        "episodes 1/6 (17%) 0.00 ep/s, elapsed 0:00:00, ETA ?, mean reward 0.000",  # 1 read back by a resume
        "episodes 3/6 (50%) 0.50 ep/s, elapsed 0:00:04, ETA 0:00:06, mean reward 0.500",
        "episodes 5/6 (83%) 0.50 ep/s, elapsed 0:00:08, ETA 0:00:02, mean reward 0.500",
        "episodes 6/6 (100%) 0.50 ep/s, elapsed 0:00:10, ETA 0:00:00, mean reward 0.500",
    ]
    stream = io.StringIO()
    slow = LineProgress(stream, every_s=30.0, clock=lambda: now[0])
    bar = slow.add_task("episodes", total=4)
    now[0] += 29.0
    slow.tick()
    now[0] += 1.0
    slow.tick()  # a heartbeat: nothing finished for 30 s
    assert stream.getvalue().splitlines()[1:] == ["episodes 0/4 (0%) 0.00 ep/s, elapsed 0:00:30, ETA ?"]
    assert isinstance(episode_progress(True, stream=io.StringIO()), LineProgress)  # not a terminal
    assert not isinstance(episode_progress(False, stream=io.StringIO()), LineProgress)


def test_engine_options_parse_and_are_in_the_help():
    assert engine_options("max_new_tokens=128, temperature=0", "s") == {"max_new_tokens": 128, "temperature": 0.0}
    assert engine_options("", "s") == {}
    with pytest.raises(PolicySpecError, match="bad engine option 'colour=red'"):
        engine_options("colour=red", "engine:x:colour=red")
    with pytest.raises(PolicySpecError, match="max_new_tokens must be a number, got 'many'"):
        engine_options("max_new_tokens=many", "s")
    assert "engine:MODEL[:KEY=VALUE,...]" in POLICY_FORMS
    from typer.testing import CliRunner

    help_text = CliRunner().invoke(app, ["eval", "--help"], env={"COLUMNS": "200"}).stdout
    assert "engine:MODEL" in help_text and "max_new_tokens" in help_text and "--resume" in help_text
