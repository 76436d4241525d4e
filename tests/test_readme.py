"""The README's first screen and its plugin example stay true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def code_blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_first_screen_has_exactly_two_setup_commands_and_ci_runs_the_same_test_command():
    first = code_blocks("bash")[0]
    commands = [line for line in first.splitlines() if line.strip() and not line.startswith("#")]
    assert commands == ["bash scripts/setup.sh && .venv/bin/agentgym quickstart", ".venv/bin/python -m pytest -q"]
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "bash scripts/setup.sh" in ci and commands[1] in ci


def test_plugin_example_runs_and_solves_its_task():
    example = code_blocks("python")[0]
    assert len(example.splitlines()) <= 32
    out = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("reward=1.0 passed=True")
