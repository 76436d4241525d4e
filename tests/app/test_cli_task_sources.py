"""`agentgym eval --tasks` and `agentgym filter --tasks` read task sources (a file or a synth output folder) and make
each env with what its tasks need, as the trainer does; a source that cannot serve is one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import agentgym
from agentgym.app.cli import app
from agentgym.app.synth_cli import synth_general_command
from agentgym.rollout import read_trajectories
from agentgym.taskio import load_tasks, save_tasks


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory) -> Path:
    """An `agentgym synth general` output folder (3 library tasks), plus `relative.jsonl`: the same tasks with
    env_dir relative to the folder, which only an env made with ``root=<folder>`` can play."""
    out = tmp_path_factory.mktemp("synth") / "general"
    synth_general_command("library", 3, out, progress=False, max_level=0)
    tasks = load_tasks(out / "tasks.jsonl")
    relative = [t.model_copy(update={"data": {**t.data, "env_dir": str(Path(t.data["env_dir"]).relative_to(out))}})
                for t in tasks]
    save_tasks(out / "relative.jsonl", relative)
    return out


def solve_first(folder: Path, tmp_path: Path) -> str:
    """A `scripted:FILE` policy (`agentgym.rollout.specs`) replaying the first task's reference action on every task.

    (`--policy reference` cannot play `general`: it finds the task by the user message, which general extends.)"""
    tasks = load_tasks(folder / "tasks.jsonl")
    script = tmp_path / "solve_first.jsonl"
    script.write_text(json.dumps(agentgym.make("general").reference_action(tasks[0]).model_dump(mode="json")) + "\n")
    return f"scripted:{script}"


@pytest.mark.parametrize("source", ["", "relative.jsonl"])
def test_eval_plays_the_synthesized_tasks_of_a_source(synth_folder, tmp_path, source):
    tasks = load_tasks(synth_folder / "tasks.jsonl")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", "--env", "general", "--tasks", str(synth_folder / source),
                                      "--policy", solve_first(synth_folder, tmp_path), "--n", "1", "--max-turns",
                                      "1", "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    played = {t.task_id: t for t in read_trajectories(out / "trajectories" / "general.jsonl")}
    assert set(played) == {t.id for t in tasks} and all(t.error != "env_error" for t in played.values())
    assert played[tasks[0].id].reward == 1.0  # its environment folder was found: relative paths need root=<folder>


def test_filter_takes_a_synth_folder_and_a_file_with_relative_env_folders(synth_folder, tmp_path):
    tasks = load_tasks(synth_folder / "tasks.jsonl")
    policy = solve_first(synth_folder, tmp_path)
    for source, kept_file in (("", "tasks.passk.jsonl"), ("relative.jsonl", "relative.passk.jsonl")):
        result = CliRunner().invoke(app, ["filter", "--tasks", str(synth_folder / source), "--policy",
                                          policy, "--k", "2", "--max-turns", "1"])
        assert result.exit_code == 0, result.output
        kept = load_tasks(synth_folder / kept_file)
        dropped = load_tasks(synth_folder / kept_file.replace(".jsonl", ".dropped.jsonl"))
        assert [t.id for t in kept] == [tasks[0].id]
        assert sorted(t.id for t in kept + dropped) == sorted(t.id for t in tasks)
        assert all(t.meta["passk"][-1]["num_env_errors"] == 0 for t in kept + dropped)


def test_a_source_that_cannot_serve_is_one_line_and_exit_2(synth_folder, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    save_tasks(tmp_path / "arith.jsonl", agentgym.make("arith").sample_tasks(2, seed=0))
    cases = [(tmp_path / "missing", "does not exist"), (tmp_path, "has no tasks.jsonl"),
             (empty, "contains no tasks"), (tmp_path / "arith.jsonl", "holds tasks of env 'arith' (2 of 2, first 'arith-0-0'), not of 'general'")]
    for path, message in cases:
        for command in (["eval", "--env", "general", "--policy", "reference", "--out-dir", str(tmp_path / "r")],
                        ["filter", "--policy", "reference"]):
            if command[0] == "filter" and "holds tasks of env" in message:
                continue  # filter plays every env its source names
            result = CliRunner().invoke(app, [*command, "--tasks", str(path)])
            assert result.exit_code == 2, (command, result.output)
            assert message in result.output and "Traceback" not in result.output
            assert len(result.output.strip().splitlines()) <= 2  # one line (wrapped at most once)
