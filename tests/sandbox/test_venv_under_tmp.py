"""A virtualenv under /tmp (a fresh clone in CI) stays usable inside bubblewrap's private /tmp."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agentgym.sandbox import LocalSandbox, SandboxConfig
from agentgym.sandbox.isolation import bwrap_problem


@pytest.mark.skipif(bwrap_problem() is not None, reason="needs bubblewrap (installed by scripts/setup.sh)")
def test_python_from_a_venv_under_tmp_runs_in_the_sandbox():
    # Like a CI clone: a world-traversable directory under /tmp (pytest's own tmp_path is 0700, which hides the bug).
    base = Path(tempfile.mkdtemp(prefix="agentgym-venv-", dir="/tmp"))
    try:
        base.chmod(0o755)
        venv = base / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        with LocalSandbox(SandboxConfig(isolation="bwrap", python_executable=python)) as box:
            result = box.run_python("import sys; print(sys.prefix)")
        assert result.exit_code == 0, result.summary()
        assert result.stdout.strip() == str(venv)
    finally:
        shutil.rmtree(base, ignore_errors=True)
