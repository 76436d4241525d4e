"""`run_eval` / `eval_command` end to end on arith: the run directory, its numbers, plots, policies and errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import agentgym
from agentgym.api import Action, Task, ToolCall
from agentgym.errors import PolicySpecError, TaskFileError, UnregisteredEnv
from agentgym.eval import EvalConfig, run_eval
from agentgym.app.eval_cli import eval_command, report_command
from agentgym.eval.report import build_report
from agentgym.rollout import PolicyStep, ScriptedPolicy, read_trajectories
from agentgym.taskio import save_tasks

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def half_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "half"
    run_eval(EvalConfig(envs=("arith",), num_samples=4, num_tasks=6, seed=0), "reference:0.5", out)
    return out


def test_run_dir_holds_every_output(half_run):
    names = {p.relative_to(half_run).as_posix() for p in half_run.rglob("*") if p.is_file()}
    assert names == {"run.json", "results.json", "report.md", "trajectories/arith.jsonl", "plots/arith_passk.png",
                     "plots/arith_reward.png", "plots/arith_turns.png"}


def test_results_match_counts_from_the_trajectory_file(half_run):
    trajectories = list(read_trajectories(half_run / "trajectories" / "arith.jsonl"))
    assert len(trajectories) == 24
    passes = Counter(t.task_id for t in trajectories if t.verdict and t.verdict.passed)
    per_task = [passes.get(f"arith-0-{i}", 0) for i in range(6)]
    assert 0 < sum(per_task) < 24  # reference:0.5 gives a mixed outcome
    results = json.loads((half_run / "results.json").read_text())["envs"]["arith"]
    # pass@1 is the mean pass rate; pass@4 (k = n) is the fraction of tasks solved at least once; pass^4 all four.
    assert results["pass_at_k"]["1"] == pytest.approx(sum(per_task) / 24)
    assert results["pass_at_k"]["4"] == pytest.approx(sum(c > 0 for c in per_task) / 6)
    assert results["pass_hat_k"]["4"] == pytest.approx(sum(c == 4 for c in per_task) / 6)
    assert results["mean_reward"] == pytest.approx(sum(per_task) / 24)
    assert results["reward_ci_low"] <= results["mean_reward"] <= results["reward_ci_high"]
    assert results["mean_turns"] == 1.0 and results["num_env_errors"] == 0
    assert results["token_unit"] == "characters (no token counts recorded)"
    assert results["wall_time_s"] > 0


def test_report_markdown_names_the_numbers_and_plots(half_run):
    text = (half_run / "report.md").read_text()
    results = json.loads((half_run / "results.json").read_text())["envs"]["arith"]
    assert "policy: `reference:0.5`" in text
    assert f"| arith | 6 × 4 | {results['pass_at_k']['1']:.3f} |" in text
    assert "![plots/arith_passk.png](plots/arith_passk.png)" in text
    assert "percentile bootstrap over tasks" in text


def test_plots_are_valid_pngs(half_run):
    import matplotlib.image

    for name in ("arith_passk.png", "arith_reward.png", "arith_turns.png"):
        path = half_run / "plots" / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        assert path.stat().st_size > 5_000  # a rendered figure, not an empty canvas
        image = matplotlib.image.imread(path)
        assert image.shape[:2] == (400, 600)  # 6 × 4 inches at 100 dpi


def test_report_rebuilds_the_same_results(half_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(half_run / "trajectories", copy / "trajectories")
    shutil.copy(half_run / "run.json", copy / "run.json")
    report_command(copy)
    before = json.loads((half_run / "results.json").read_text())["envs"]
    assert json.loads((copy / "results.json").read_text())["envs"] == before
    assert (copy / "plots" / "arith_passk.png").read_bytes()[:8] == PNG_SIGNATURE


def test_report_on_a_folder_without_trajectories_is_a_user_error(tmp_path, half_run):
    with pytest.raises(TaskFileError, match="is not an eval run directory: no trajectories/\\*.jsonl"):
        build_report(tmp_path)
    (tmp_path / "trajectories").mkdir()
    (tmp_path / "trajectories" / "arith.jsonl").write_text((half_run / "trajectories" / "arith.jsonl").read_text())
    (tmp_path / "run.json").write_text("{oops")
    with pytest.raises(TaskFileError, match="run.json: not valid JSON"):
        build_report(tmp_path)


def test_reference_policy_passes_everything_and_run_is_repeatable(tmp_path):
    first = run_eval(EvalConfig(envs=("arith",), num_samples=3, num_tasks=4), "reference", tmp_path / "a")
    assert first[0].pass_at_k == {1: 1.0, 2: 1.0, 3: 1.0} and first[0].mean_reward == 1.0
    again = run_eval(EvalConfig(envs=("arith",), num_samples=3, num_tasks=4, concurrency=1), "reference:0.5",
                     tmp_path / "b")
    other = run_eval(EvalConfig(envs=("arith",), num_samples=3, num_tasks=4, concurrency=7), "reference:0.5",
                     tmp_path / "c")
    assert again[0].pass_at_k == other[0].pass_at_k  # outcomes per task do not depend on interleaving


def test_scripted_file_policy_and_task_file(tmp_path):
    tasks = [Task(id="t35", env="arith", prompt="Compute the value of 30 + 5. Use it.", data={"answer": 35}),
             Task(id="t7", env="arith", prompt="Compute the value of 3 + 4. Use it.", data={"answer": 7})]
    save_tasks(tmp_path / "tasks.jsonl", tasks)
    script = tmp_path / "script.jsonl"
    script.write_text(json.dumps({"tool_calls": [{"name": "submit", "arguments": {"answer": 35}}]}) + "\n")
    metrics = eval_command("arith", tmp_path / "tasks.jsonl", f"scripted:{script}", 2, tmp_path / "run", 4)
    assert metrics[0].pass_at_k == {1: 0.5, 2: 0.5} and metrics[0].pass_hat_k == {1: 0.5, 2: 0.5}
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["tasks_file"] == str(tmp_path / "tasks.jsonl") and meta["num_tasks"] == {"arith": 2}


def test_several_envs_split_a_task_file_by_env(tmp_path):
    agentgym.register("arith-eval-test", "agentgym.envs.arith:ArithEnv", difficulty=1)
    try:
        tasks = agentgym.make("arith").sample_tasks(3, seed=5)
        tasks += [t.model_copy(update={"id": t.id + "-b", "env": "arith-eval-test"}) for t in tasks[:2]]
        save_tasks(tmp_path / "tasks.jsonl", tasks)
        metrics = eval_command("arith, arith-eval-test", tmp_path / "tasks.jsonl", "reference", 2, tmp_path / "run", 4)
        assert [(m.env, m.num_tasks) for m in metrics] == [("arith", 3), ("arith-eval-test", 2)]
        assert (tmp_path / "run" / "plots" / "arith-eval-test_turns.png").is_file()
        with pytest.raises(TaskFileError, match="no tasks for env 'arith-eval-test' \\(its tasks are for: arith\\)"):
            run_eval(EvalConfig(envs=("arith", "arith-eval-test")), "reference", tmp_path / "x", tasks=tasks[:3])
    finally:
        agentgym.registry.default.unregister("arith-eval-test")


def test_policy_token_counts_are_kept(tmp_path):
    answers = {t.prompt: t.data["answer"] for t in agentgym.make("arith").sample_tasks(2, seed=0)}  # eval's tasks

    class CountingSolver:
        async def act(self, messages, tools):
            call = ToolCall(id="s", name="submit", arguments={"answer": answers[messages[1].content]})
            return PolicyStep(action=Action(tool_calls=[call]), num_prompt_tokens=11, num_completion_tokens=3)

    metrics = run_eval(EvalConfig(envs=("arith",), num_samples=2, num_tasks=2), CountingSolver(), tmp_path)
    assert metrics[0].pass_at_k[1] == 1.0
    assert (metrics[0].mean_prompt_tokens, metrics[0].mean_completion_tokens) == (11, 3)
    assert metrics[0].token_unit == "tokens reported by the policy"
    stored = list(read_trajectories(tmp_path / "trajectories" / "arith.jsonl"))
    assert {(t.num_prompt_tokens, t.num_completion_tokens) for t in stored} == {(11, 3)}
    assert "CountingSolver" in json.loads((tmp_path / "run.json").read_text())["policy"]


def test_tool_errors_and_truncation_are_reported(tmp_path):
    chatty = ScriptedPolicy(lambda messages, tools: Action(text="let me think"))
    metrics = run_eval(EvalConfig(envs=("arith",), num_samples=1, num_tasks=2, max_turns=3), chatty, tmp_path)
    assert metrics[0].tool_error_rate == 1.0 and metrics[0].num_truncated == 2 and metrics[0].mean_turns == 3
    assert metrics[0].pass_at_k == {1: 0.0}


@pytest.mark.parametrize("env, policy, error, message", [
    ("arithh", "reference", UnregisteredEnv, "no env named 'arithh'. Did you mean 'arith'"),
    (" , ", "reference", UnregisteredEnv, "no env named in ' , '"),
    ("arith", "magic", PolicySpecError, "unknown policy 'magic'; expected .* or 'reference' or 'reference:P'"),
    ("arith", "reference:lots", PolicySpecError, "cannot parse policy 'reference:lots'"),
    ("arith", "reference:2", PolicySpecError, r"P must be in \[0, 1\], got 2.0"),
    ("arith", "scripted:/no/such.jsonl", PolicySpecError, "does not exist"),
])
def test_user_mistakes_raise_agentgym_errors(tmp_path, env, policy, error, message):
    with pytest.raises(error, match=message):
        eval_command(env, None, policy, 2, tmp_path / "run", 2)
    assert not (tmp_path / "run").exists()  # nothing ran


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="^num_samples must be a positive integer, got 0$"):
        EvalConfig(envs=("arith",), num_samples=0)
    with pytest.raises(ValueError, match="envs must be a non-empty tuple"):
        EvalConfig(envs="arith")  # type: ignore[arg-type]


def test_evaluate_scores_every_env_with_and_without_progress_bars():
    from agentgym.api import Action
    from agentgym.eval.runner import evaluate
    from agentgym.envs.echo_letter import EchoLetterEnv
    from agentgym.rollout import ScriptedPolicy

    policy = ScriptedPolicy(lambda messages, tools: Action(text=messages[-1].content))
    tasks = {"one": EchoLetterEnv().sample_tasks(3, seed=0), "two": EchoLetterEnv().sample_tasks(2, seed=1)}
    for progress in (False, True):
        scores, trajectories = evaluate(policy, lambda name: EchoLetterEnv(), tasks, score=lambda t: t.reward,
                                        progress=progress)
        assert scores == {"one": [1.0] * 3, "two": [1.0] * 2} and len(trajectories) == 5
