"""Every stage is resumable: a run killed with SIGKILL mid-way and rerun stores the same tasks, with no duplicate and
no corrupt record; the funnel and the CLI function report each stage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agentgym.app.synth_cli import synth_general_command
from agentgym.synth.store import Store

from agentgym.taskio import load_tasks

NUM_TASKS = 24
RUN = ("import sys; from pathlib import Path; from agentgym.app.synth_cli import synth_general_command; "
       "synth_general_command('all', int(sys.argv[2]), Path(sys.argv[1]), progress=False)")


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


@pytest.mark.slow
def test_a_sigkilled_run_resumes_without_duplicates_or_corruption(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", RUN, str(out), str(NUM_TASKS)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _lines(out / "tasks.store.jsonl") < 6 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    stored_before = Store(out / "tasks.store.jsonl").keys()
    assert 0 < len(stored_before) < NUM_TASKS, "the kill should land mid-run"

    funnel = synth_general_command("all", NUM_TASKS, out, progress=False)
    store = Store(out / "tasks.store.jsonl")
    keys = [json.loads(line)["key"] for line in (out / "tasks.store.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == NUM_TASKS, "a duplicate line was written"
    assert store.keys()[: len(stored_before)] == stored_before
    journal_keys = [json.loads(line)["key"] for line in (out / "journal.store.jsonl").read_text().splitlines()]
    assert len(journal_keys) == len(set(journal_keys))
    tasks = load_tasks(out / "tasks.jsonl")
    for task in tasks:
        manifest = json.loads((Path(task.data["env_dir"]) / "manifest.json").read_text())
        assert manifest["env_sha256"] == task.data["env_sha256"]
    assert funnel.tasks["stored"] >= NUM_TASKS - len(stored_before)

    fresh = tmp_path / "fresh"
    synth_general_command("all", NUM_TASKS, fresh, progress=False)
    assert Store(fresh / "tasks.store.jsonl").keys() == store.keys()  # same seed, same tasks, killed or not
    assert [t.prompt for t in load_tasks(fresh / "tasks.jsonl")] == [t.prompt for t in tasks]


def test_the_command_prints_the_funnel_and_rejects_unknown_categories(tmp_path, capsys):
    from rich.console import Console

    console = Console(width=120, force_terminal=False)
    funnel = synth_general_command("library", 4, tmp_path / "lib", progress=False, console=console)
    printed = capsys.readouterr().out
    for label in ("generated", "consistent", "escalated", "checks passed", "deduped", "stored"):
        assert label in printed
    assert funnel.tasks["stored"] == 4 and {t.meta["category"] for t in load_tasks(tmp_path / "lib" / "tasks.jsonl")} \
        == {"library"}
    again = synth_general_command("library", 4, tmp_path / "lib", progress=False, console=console)
    assert again.num_units == 0 and len(Store(tmp_path / "lib" / "tasks.store.jsonl")) == 4  # nothing left to do
    with pytest.raises(ValueError, match="unknown categories \\['cooking'\\]"):
        synth_general_command("cooking", 4, tmp_path / "x", progress=False)
