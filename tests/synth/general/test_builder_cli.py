"""`agentgym synth general --generator openai:MODEL@URL --category ... --corpus DIR` as a user runs it: one progress
line per environment on a non-terminal stderr, and a run killed mid-build resumes without redoing finished builds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fake_openai import FakeOpenAIServer, replay_responder

FIXTURES = Path(__file__).parent / "builder_fixtures"
SCRIPTS = {p.stem.replace("_", " "): [json.loads(line) for line in p.read_text().splitlines()]
           for p in FIXTURES.glob("*.jsonl")}


def command(url: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "agentgym.app.cli", "synth", "general", "--generator", f"openai:fake@{url}",
            "--category", "bookstore", "--corpus", str(FIXTURES / "corpus"), "--n", "2", "--max-level", "1",
            "--out", str(out)]


def test_progress_lines_and_resume_after_a_kill(tmp_path):
    out = tmp_path / "run"
    with FakeOpenAIServer(replay_responder(SCRIPTS)) as server:
        proc = subprocess.Popen(command(server.base_url, out), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                text=True, start_new_session=True)
        lines = []
        deadline = time.monotonic() + 120
        for line in proc.stderr:
            lines.append(line)
            if "[2/2] bookstore-s0-b1: building" in line or time.monotonic() > deadline:
                break
        os.killpg(proc.pid, signal.SIGKILL)  # killed while the second build runs
        proc.wait()
        assert any(line.startswith("[1/2] bookstore-s0-b0: stored 2 task(s)") for line in lines), lines
        assert not any("\x1b[" in line for line in lines)  # plain lines: stderr is not a terminal
        num_requests = len(server.requests)
        done = subprocess.run(command(server.base_url, out), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "[1/2] bookstore-s0-b0: stored earlier, skipped" in done.stderr
    # the second build repeats the first one's tasks: dedup rejects it, with its reason
    assert "[2/2] bookstore-s0-b1: rejected at dedup: all 2 passing level(s) duplicate stored tasks" in done.stderr
    assert len(server.requests) - num_requests == len(SCRIPTS["bookstore"])  # only the killed build ran again
    assert len((out / "tasks.jsonl").read_text().splitlines()) == 2
    assert {p.name for p in (out / "transcripts").iterdir()} == {"bookstore-s0-b0.jsonl", "bookstore-s0-b1.jsonl"}


def test_corpus_without_generator_is_one_clear_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "agentgym.app.cli", "synth", "general", "--corpus", str(FIXTURES),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "--corpus needs --generator" in done.stderr + done.stdout
