"""Prepared virtualenvs: pytest plus a project's test dependencies, built once per (interpreter, deps) in the cache.

The project itself is NOT installed: the tests import it from the working copy in the sandbox (cwd or PYTHONPATH),
so that the agent's edits are what runs. The venv is bind-mounted read-only into every sandbox of that project.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from agentgym.synth.code.project_cache import code_cache, locked
from agentgym.synth.code.source import SourceError

READY = ".agentgym-ready"
PYTEST_REQUIREMENT = "pytest>=8,<10"


def venv_key(deps: tuple[str, ...]) -> str:
    text = "\n".join([sys.version, PYTEST_REQUIREMENT, *sorted(deps)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def prepare_venv(deps: tuple[str, ...] = (), *, name: str = "pytest") -> Path:
    """A venv with pytest and `deps`, e.g. ``~/.cache/agentgym/code/venvs/pytest-3f2a9c01b7de``.

    Keyed by the interpreter and the dependency list only, so projects with the same test deps share one venv.

    Built with `python -m venv --without-pip` and this interpreter's pip (`pip --python`), which skips bootstrapping
    pip into every venv. A `.agentgym-ready` marker is written last; a venv without it is rebuilt.
    """
    dest = code_cache() / "venvs" / f"{name}-{venv_key(deps)}"
    with locked(dest):
        if (dest / READY).is_file():
            return dest
        shutil.rmtree(dest, ignore_errors=True)
        steps = [
            [sys.executable, "-m", "venv", "--without-pip", str(dest)],
            [sys.executable, "-m", "pip", "--python", str(dest / "bin" / "python"), "install", "--quiet",
             "--disable-pip-version-check", PYTEST_REQUIREMENT, *deps],
        ]  # fmt: skip
        for argv in steps:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
            if proc.returncode != 0:
                shutil.rmtree(dest, ignore_errors=True)
                raise SourceError(f"preparing the test venv failed: {' '.join(argv[:4])} ...\n{proc.stderr[-2000:]}")
        (dest / READY).write_text("ok\n")
    return dest
