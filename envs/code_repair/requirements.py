"""Is pytest importable by the interpreter that will run a task's tests? Checked without importing pytest here.

Tasks with a prepared venv bring their own pytest; tasks without one run pytest with the env's `python_executable`
(by default this interpreter), which then needs the `code` extra. Without this check a missing pytest would only show
up as every episode scoring 0 ("No module named pytest" inside the sandbox).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from agentgym.errors import DependencyNotInstalled, require

FEATURE = "the code_repair env (it runs each task's tests with pytest)"
EXTRA = "code"
_PROBE = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('pytest') else 3)"


def check_pytest(python: str, *, known_good: set[str]) -> None:
    """Raise `DependencyNotInstalled` (naming ``pip install 'agentgym-rl[code]'``) unless `python` can import pytest.

    This interpreter is checked with `importlib.util.find_spec` (pytest is not imported into the trainer); another
    interpreter with one subprocess probe. Interpreters that passed are remembered in `known_good`.
    """
    if python in known_good:
        return
    if python == sys.executable:
        if sys.modules.get("pytest") is None and importlib.util.find_spec("pytest") is None:
            require("pytest", EXTRA, FEATURE)  # raises DependencyNotInstalled with the pip command
    else:
        try:
            probe = subprocess.run([python, "-c", _PROBE], capture_output=True, timeout=60, check=False)
            ok = probe.returncode == 0
        except OSError:
            ok = False
        if not ok:
            raise DependencyNotInstalled(
                f"{FEATURE} needs the Python package 'pytest' in the interpreter {python}, which cannot import it. "
                f"Install it with: pip install 'agentgym-rl[{EXTRA}]' (into that interpreter's environment)"
            )
    known_good.add(python)
