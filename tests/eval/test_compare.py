"""`compare_runs`: paired by task id, B − A with a bootstrap CI and p-value; unrelated runs are a user error."""

from __future__ import annotations

import pytest

from agentgym.errors import TaskFileError
from agentgym.eval import EvalConfig, run_eval
from agentgym.app.eval_cli import compare_command
from agentgym.eval.compare import compare_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    plan = (("bad", "reference:0", 12), ("good", "reference", 12), ("half", "reference:0.5", 10))
    for name, policy, num_tasks in plan:
        run_eval(EvalConfig(envs=("arith",), num_samples=2, num_tasks=num_tasks, concurrency=8), policy, root / name)
    return root


def test_a_clear_improvement_is_significant(runs):
    [c] = compare_runs(runs / "bad", runs / "good", num_resamples=500)
    assert (c.env, c.reward_a, c.reward_b, c.pass_a, c.pass_b) == ("arith", 0.0, 1.0, 0.0, 1.0)
    assert (c.reward.diff, c.reward.low, c.reward.high, c.reward.num_tasks) == (1.0, 1.0, 1.0, 12)
    assert c.reward.p_value == pytest.approx(1 / 501) and c.num_unpaired == 0
    [reverse] = compare_runs(runs / "good", runs / "bad", num_resamples=500)
    assert reverse.pass_at_1.diff == -1.0 and reverse.pass_at_1.p_value == pytest.approx(1 / 501)


def test_a_run_against_itself_shows_no_difference(runs):
    [c] = compare_runs(runs / "half", runs / "half")
    assert c.reward.diff == 0.0 and c.reward.p_value == 1.0 and c.reward.low == c.reward.high == 0.0


def test_only_shared_tasks_are_paired(runs):
    # "half" sampled 10 tasks, "good" 12 with the same generator seed: the first 10 are shared.
    [c] = compare_runs(runs / "half", runs / "good")
    assert c.reward.num_tasks == 10 and c.num_unpaired == 2
    assert c.reward_b == 1.0 and 0.0 < c.reward_a < 1.0
    assert c.reward.diff == pytest.approx(1.0 - c.reward_a)
    assert c.reward.low <= c.reward.diff <= c.reward.high


def test_compare_command_prints_the_table(runs, capsys):
    compare_command(runs / "bad", runs / "good", num_resamples=200, seed=1)
    out = capsys.readouterr().out
    assert "reward" in out and "pass@1" in out and "+1.000 [+1.000, +1.000]" in out and "better" in out
    assert "200 resamples, seed 1" in out


def test_runs_without_shared_envs_are_a_user_error(runs, tmp_path):
    other = tmp_path / "other" / "trajectories"
    other.mkdir(parents=True)
    (other / "search.jsonl").write_text((runs / "bad" / "trajectories" / "arith.jsonl").read_text())
    with pytest.raises(TaskFileError, match=r"share no env"):
        compare_runs(runs / "bad", tmp_path / "other")
    with pytest.raises(TaskFileError, match="is not an eval run directory"):
        compare_runs(runs / "bad", tmp_path / "missing")
