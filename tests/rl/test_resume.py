"""Exact resume: a run SIGKILLed between steps and resumed produces the same next step as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("resume_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _run(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(WORKER), str(out), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=True)


def _lines(text: str) -> dict[int, str]:
    return {int(line.split()[1]): line for line in text.splitlines() if line.startswith("step ")}


@pytest.mark.slow
def test_sigkill_between_steps_then_resume_matches_uninterrupted(tmp_path):
    straight = _run(tmp_path / "straight")

    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(WORKER), str(killed_dir), "--pause-at", "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.strip() == "PAUSED":
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "".join(seen) + proc.stderr.read()
    checkpoints = killed_dir / "checkpoints"
    assert (checkpoints / "latest").read_text() == "step_000002"
    assert not (checkpoints / "step_000003").exists()

    resumed = _run(killed_dir, "--resume")
    resumed_steps, straight_steps = _lines(resumed.stdout), _lines(straight.stdout)
    assert sorted(resumed_steps) == [2, 3]
    assert resumed_steps[2] == straight_steps[2]  # the next step's loss and reward, printed with repr
    assert resumed_steps[3] == straight_steps[3]
    for name in ("step_000003", "step_000004"):
        a = load_file(str(tmp_path / "straight" / "checkpoints" / name / "model.safetensors"))
        b = load_file(str(checkpoints / name / "model.safetensors"))
        assert a.keys() == b.keys()
        assert all(a[k].dtype == b[k].dtype and (a[k] == b[k]).all() for k in a)  # bit for bit in fp32
    metrics = (killed_dir / "metrics.jsonl").read_text().splitlines()
    assert [int(m.split(",")[0].split(":")[1]) for m in metrics] == [0, 1, 2, 3]
