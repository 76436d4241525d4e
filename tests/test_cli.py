"""The `agentgym` command line: every command once, and user mistakes as one clear line with exit code 2."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agentgym
from agentgym.app import cli
from agentgym import registry as registry_module
from agentgym.api import Action, Task, ToolCall, Verdict
from agentgym.envs.arith import generate_tasks
from agentgym.rollout import read_trajectories
from agentgym.rollout.specs import POLICY_FORMS
from agentgym.taskio import load_tasks, save_tasks
from agentgym.toolenv import ToolEnv, tool

AGENTGYM = Path(sys.executable).with_name("agentgym")
LIST_HINT = (
    "Run `agentgym envs list` to see them with their sources; an env from a plugin needs that plugin installed "
    "(`pip install <plugin>`)."
)


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Tables as wide as they need to be, so cells are not cut with '…'."""
    monkeypatch.setattr(cli.console, "width", 400)
    monkeypatch.setattr(cli.err_console, "width", 400)


@pytest.fixture
def fresh_default(monkeypatch):
    """A fresh default registry that discovers the given entry points (restored after the test)."""
    entry_points: list[md.EntryPoint] = []
    monkeypatch.setattr(registry_module, "default", registry_module.Registry())
    monkeypatch.setattr(registry_module, "_entry_points", lambda group: list(entry_points))
    return entry_points


def run(*args: str):
    return CliRunner().invoke(cli.app, [str(a) for a in args])


def assert_user_error(result, message: str) -> None:
    """Exit code 2, exactly one line on stderr, no traceback anywhere."""
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {message}\n"
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def registered() -> str:
    return ", ".join(s.name for s in agentgym.list_envs())


# --- envs ----------------------------------------------------------------------------------------------------------
def test_envs_list_shows_arith():
    result = run("envs", "list")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if " arith " in line)
    assert "agentgym.envs.arith:ArithEnv" in row and "plugin agentgym" in row and " ok " in row


def test_envs_list_shows_a_broken_plugin_with_its_error_next_to_the_good_ones(fresh_default):
    fresh_default += [
        md.EntryPoint(name="arith", value="agentgym.envs.arith:ArithEnv", group="agentgym.envs"),
        md.EntryPoint(name="ghost", value="agp_cli_ghost:Env", group="agentgym.envs"),
        md.EntryPoint(name="bad-ep", value="not valid", group="agentgym.envs"),
    ]
    result = run("envs", "list")
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == {"arith", "bad-ep", "ghost"}
    assert " ok " in rows["arith"]
    assert (
        "broken: env 'ghost' (entry point 'agp_cli_ghost:Env', from plugin (unknown distribution)): module "
        "'agp_cli_ghost' cannot be imported (No module named 'agp_cli_ghost'). Fix: install the package that provides "
        "it, or correct the entry point in the plugin's pyproject.toml [project.entry-points.\"agentgym.envs\"]."
    ) in rows["ghost"]
    assert "broken: env 'bad-ep': invalid entry point 'not valid'" in rows["bad-ep"]


def test_envs_check_arith_passes():
    result = run("envs", "check", "arith")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == "env 'arith' passes all 10 checks"
    assert sum(line.startswith("✓ ") for line in lines) == 10
    assert "✓ gymnasium: gymnasium check_env passes" in lines
    assert "✓ reference policy: reference policy passes 4 tasks in 2-2 turns" in lines


def test_envs_check_with_a_task_file(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    save_tasks(tasks, generate_tasks(2, seed=5))
    result = run("envs", "check", "arith", "--tasks", tasks)
    assert result.exit_code == 0, result.output
    assert "✓ reference solves: reference solution passes 2 tasks" in result.stdout.splitlines()


def test_envs_check_unknown_env_is_one_line_with_a_suggestion():
    result = run("envs", "check", "arth")
    assert_user_error(
        result, f"no env named 'arth'. Did you mean 'arith'? Registered envs: {registered()}. {LIST_HINT}"
    )


def test_envs_check_a_plugin_that_does_not_import_prints_the_whole_fix(fresh_default):
    fresh_default.append(md.EntryPoint(name="ghost", value="agp_cli_ghost:Env", group="agentgym.envs"))
    result = run("envs", "check", "ghost")
    # The brackets of the pyproject table must survive the terminal's markup.
    assert_user_error(result, (
        "env 'ghost' (entry point 'agp_cli_ghost:Env', from plugin (unknown distribution)): module 'agp_cli_ghost' "
        "cannot be imported (No module named 'agp_cli_ghost'). Fix: install the package that provides it, or correct "
        "the entry point in the plugin's pyproject.toml [project.entry-points.\"agentgym.envs\"]."
    ))


def test_envs_check_an_env_that_breaks_the_contract(fresh_default):
    class NoGuard(ToolEnv):
        name = "noguard"

        @tool("Submit.")
        async def submit(self, answer: int):
            return "ok"

        async def step(self, action):
            return await super().step(action) if self.is_running else None

    registry_module.register("noguard", NoGuard)
    result = run("envs", "check", "noguard")
    assert_user_error(result, "step() before reset() should raise agentgym.errors.ResetNeeded, but it returned")


def test_envs_check_fuzz_passes_a_sound_env():
    result = run("envs", "check", "arith", "--fuzz", "20", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "fuzz: 20 hostile actions, no exception, hang or env_error" in result.stdout


def test_envs_check_fuzz_fails_an_env_that_blames_itself_for_agent_input(fresh_default):
    class Fragile(ToolEnv):
        """Its tool crashes on a huge integer: an env_error that the agent's input caused."""

        name = "fragile"

        @tool("Submit.", answer={"type": "integer"})
        async def submit(self, answer: int):
            if abs(answer) > 10**6:
                raise RuntimeError("boom")
            return Verdict(reward=float(answer == 1), passed=answer == 1)

        def sample_tasks(self, n, *, seed=0):
            return [Task(id=f"f{i}", env="fragile", prompt="submit 1", data={}) for i in range(n)]

        def reference_action(self, task):
            return Action(tool_calls=[ToolCall(name="submit", arguments={"answer": 1})])

    registry_module.register("fragile", Fragile)
    result = CliRunner().invoke(cli.app, ["envs", "check", "fragile", "--fuzz", "10"])
    assert result.exit_code != 0
    assert "env_error" in result.output


def test_docker_build_base_without_an_engine_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/agentgym-test.sock")
    result = run("docker", "build-base")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: no Docker engine answers") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_unknown_env_end_to_end_through_the_installed_script():
    proc = subprocess.run(
        [str(AGENTGYM), "envs", "check", "arth"], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: no env named 'arth'. Did you mean 'arith'?")


def test_envs_list_end_to_end_through_the_installed_script():
    proc = subprocess.run(
        [str(AGENTGYM), "envs", "list"], capture_output=True, text=True, check=False, timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert any(" arith " in line and "ok" in line for line in proc.stdout.splitlines())


# --- tasks sample --------------------------------------------------------------------------------------------------
def test_tasks_sample_writes_valid_tasks(tmp_path):
    out = tmp_path / "sub" / "tasks.jsonl"
    result = run("tasks", "sample", "arith", "--n", "5", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote 5 tasks to {out}\n"
    assert load_tasks(out) == generate_tasks(5, seed=0)
    assert len(out.read_text().splitlines()) == 5
    assert not out.with_name(out.name + ".tmp").exists()


def test_tasks_sample_seed_changes_the_tasks(tmp_path):
    run("tasks", "sample", "arith", "--n", "3", "--seed", "1", "--out", tmp_path / "a.jsonl")
    run("tasks", "sample", "arith", "--n", "3", "--seed", "2", "--out", tmp_path / "b.jsonl")
    assert load_tasks(tmp_path / "a.jsonl") == generate_tasks(3, seed=1)
    assert load_tasks(tmp_path / "a.jsonl") != load_tasks(tmp_path / "b.jsonl")


def test_tasks_sample_for_an_env_without_a_generator(fresh_default, tmp_path):
    class NoGenerator(ToolEnv):
        name = "nogen"

    registry_module.register("nogen", NoGenerator)
    result = run("tasks", "sample", "nogen", "--out", tmp_path / "t.jsonl")
    assert_user_error(result, "env 'nogen' has no task generator (sample_tasks); write a task file by hand")
    assert not (tmp_path / "t.jsonl").exists()


def test_tasks_sample_rejects_zero_tasks(tmp_path):
    result = run("tasks", "sample", "arith", "--n", "0", "--out", tmp_path / "t.jsonl")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# --- rollout -------------------------------------------------------------------------------------------------------
def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def rollout_files(tmp_path):
    tasks = [
        Task(id="t35", env="arith", prompt="Compute the value of (3 + 4) * 5.", data={"answer": 35}),
        Task(id="t12", env="arith", prompt="Compute the value of 3 * 4.", data={"answer": 12}),
    ]
    tasks_file = tmp_path / "tasks.jsonl"
    save_tasks(tasks_file, tasks)
    actions = [
        Action(text='<tool_call>{"name": "calculator", "arguments": {"expression": "(3 + 4) * 5"}}</tool_call>'),
        Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": 35})]),
    ]
    script = write_jsonl(tmp_path / "actions.jsonl", [a.model_dump(mode="json") for a in actions])
    return tasks_file, script, tmp_path / "out" / "trajectories.jsonl"


def test_rollout_with_a_scripted_policy_writes_trajectories_and_a_summary(rollout_files):
    tasks_file, script, out = rollout_files
    result = run("rollout", "--env", "arith", "--tasks", tasks_file, "--policy", f"scripted:{script}", "--out", out,
                 "--n", "2")
    assert result.exit_code == 0, result.output
    trajectories = list(read_trajectories(out))
    assert [(t.task_id, t.reward) for t in trajectories] == [("t35", 1.0), ("t35", 1.0), ("t12", 0.0), ("t12", 0.0)]
    assert all(t.terminated and t.num_turns == 2 for t in trajectories)
    assert trajectories[0].messages[3].content == "35"  # the calculator's answer, as the tool message
    row = next(line for line in result.stdout.splitlines() if str(out) in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")] == ["4", "2", "0.500", "0", "0", str(out)]
    assert not Path(str(out) + ".partial").exists()


@pytest.mark.parametrize("spec", ["nonsense", "scripted:", "random:policy", "scripted"])
def test_rollout_with_a_bad_policy_lists_the_accepted_forms(rollout_files, spec):
    tasks_file, _, out = rollout_files
    result = run("rollout", "--env", "arith", "--tasks", tasks_file, "--policy", spec, "--out", out)
    assert_user_error(result, f"unknown policy {spec!r}; expected {POLICY_FORMS}")
    assert not out.exists()


@pytest.mark.parametrize("spec", ["openai", "openai:model-without-url", "openai:@http://127.0.0.1:1/v1"])
def test_rollout_with_a_malformed_openai_policy_shows_its_form(rollout_files, spec):
    tasks_file, _, out = rollout_files
    result = run("rollout", "--env", "arith", "--tasks", tasks_file, "--policy", spec, "--out", out)
    assert_user_error(result, f"cannot parse policy {spec!r}; expected 'openai:MODEL@URL', e.g. "
                              "'openai:my-model@http://127.0.0.1:8000/v1'")


def test_rollout_with_a_missing_script_file(rollout_files, tmp_path):
    tasks_file, _, out = rollout_files
    missing = tmp_path / "nope.jsonl"
    result = run("rollout", "--env", "arith", "--tasks", tasks_file, "--policy", f"scripted:{missing}", "--out", out)
    assert_user_error(result, f"scripted policy file {str(missing)!r} does not exist")


def test_rollout_with_a_corrupt_script_file_names_the_line(rollout_files, tmp_path):
    tasks_file, _, out = rollout_files
    script = tmp_path / "bad_actions.jsonl"
    script.write_text('{"text": "hi"}\n{"txet": "typo"}\n', encoding="utf-8")
    result = run("rollout", "--env", "arith", "--tasks", tasks_file, "--policy", f"scripted:{script}", "--out", out)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.startswith(f"error: {script}:2: not an action (")
    assert result.stderr.count("\n") == 1


def test_rollout_with_a_missing_tasks_file(rollout_files, tmp_path):
    _, script, out = rollout_files
    missing = tmp_path / "missing.jsonl"
    result = run("rollout", "--env", "arith", "--tasks", missing, "--policy", f"scripted:{script}", "--out", out)
    assert_user_error(result, f"task file {str(missing)!r} does not exist (expected a JSONL file with one task per "
                              "line)")


def test_rollout_with_a_corrupt_tasks_file_names_file_and_line(rollout_files, tmp_path):
    _, script, out = rollout_files
    tasks_file = tmp_path / "corrupt.jsonl"
    good = json.dumps(Task(id="a", env="arith", prompt="p").model_dump())
    tasks_file.write_text(f"# a comment\n{good}\n\n{{not json\n", encoding="utf-8")
    result = run("rollout", "--env", "arith", "--tasks", tasks_file, "--policy", f"scripted:{script}", "--out", out)
    assert_user_error(result, f"{tasks_file}:4: not valid JSON (Expecting property name enclosed in double quotes at "
                              "column 2)")


def test_rollout_with_an_invalid_task_names_file_line_and_field(rollout_files, tmp_path):
    _, script, out = rollout_files
    tasks_file = write_jsonl(tmp_path / "invalid.jsonl", [
        Task(id="a", env="arith", prompt="p").model_dump(),
        {"id": "b", "env": "arith", "data": {}},
    ])
    result = run("rollout", "--env", "arith", "--tasks", tasks_file, "--policy", f"scripted:{script}", "--out", out)
    assert_user_error(result, f"{tasks_file}:2: not a valid task (prompt: Field required)")


def test_rollout_with_an_empty_tasks_file(rollout_files, tmp_path):
    _, script, out = rollout_files
    tasks_file = tmp_path / "empty.jsonl"
    tasks_file.write_text("\n# nothing here\n", encoding="utf-8")
    result = run("rollout", "--env", "arith", "--tasks", tasks_file, "--policy", f"scripted:{script}", "--out", out)
    assert_user_error(result, f"task file {str(tasks_file)!r} contains no tasks")


def test_rollout_with_an_unknown_env(rollout_files):
    tasks_file, script, out = rollout_files
    result = run("rollout", "--env", "arithm", "--tasks", tasks_file, "--policy", f"scripted:{script}", "--out", out)
    assert_user_error(result, f"no env named 'arithm'. Did you mean 'arith'? Registered envs: {registered()}. "
                              f"{LIST_HINT}")


# --- quickstart ----------------------------------------------------------------------------------------------------
def test_quickstart_runs_and_writes_trajectories(tmp_path):
    result = run("quickstart", "--scripted", "--num-tasks", "4", "--n", "2", "--out-dir", tmp_path)
    assert result.exit_code == 0, result.output
    out = tmp_path / "trajectories.jsonl"
    trajectories = list(read_trajectories(out))
    assert len(trajectories) == 8
    assert all(t.verdict is not None and t.verdict.passed and t.num_turns == 2 for t in trajectories)
    assert result.stdout.startswith("agentgym quickstart --scripted")
    assert "8 episodes, 16 env steps in " in result.stdout


def test_cli_bounds_openmp_spinning_unless_the_user_chose():
    import os
    import subprocess
    import sys

    probe = "import agentgym.app.cli, os; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}

    def run(**extra: str) -> str:
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env={**env, **extra},
                              check=True).stdout.strip()

    assert run() == "10000 None"
    assert run(GOMP_SPINCOUNT="50") == "50 None"
    assert run(OMP_WAIT_POLICY="PASSIVE") == "None PASSIVE"
