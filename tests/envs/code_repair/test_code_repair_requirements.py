"""A missing pytest fails at the first reset with `DependencyNotInstalled` naming the `code` extra, not as reward 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from agentgym.envs.code_repair import CodeRepairEnv, fixture_tasks
from agentgym.envs.code_repair import requirements
from agentgym.errors import DependencyNotInstalled

PIP = "pip install 'agentgym-rl[code]'"


def test_missing_pytest_in_this_interpreter_raises_with_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pytest", None)  # what an interpreter without pytest looks like to import
    with pytest.raises(DependencyNotInstalled) as info:
        requirements.check_pytest(sys.executable, known_good=set())
    assert str(info.value) == ("the code_repair env (it runs each task's tests with pytest) needs the Python package "
                               f"'pytest', which is not installed. Install it with: {PIP}")  # fmt: skip
    assert isinstance(info.value, ImportError)


async def test_another_interpreter_without_pytest_is_named(tmp_path):
    fake = tmp_path / "python-without-pytest"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    env = CodeRepairEnv(python_executable=str(fake))
    expected = f"interpreter {fake}, which cannot import it. Install it with: {PIP}"
    with pytest.raises(DependencyNotInstalled, match=re.escape(expected)):
        await env.reset(fixture_tasks(1, seed=0)[0], seed=0)
    await env.close()


def test_the_check_imports_nothing_and_remembers_good_interpreters():
    code = ("import sys; from agentgym.envs.code_repair import requirements as r; ok = set(); "
            "r.check_pytest(sys.executable, known_good=ok); "
            "print('pytest' in sys.modules, ok == {sys.executable})")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})  # fmt: skip
    assert out.stdout.split() == ["False", "True"]
    known = {"/nonexistent/python"}
    requirements.check_pytest("/nonexistent/python", known_good=known)  # remembered: no probe, no error
    with pytest.raises(DependencyNotInstalled):
        requirements.check_pytest("/nonexistent/python", known_good=set())
