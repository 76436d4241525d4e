"""The eval layer stays light: importing it (and its CLI command bodies) never pulls in torch or matplotlib."""

from __future__ import annotations

import subprocess
import sys


def test_eval_imports_neither_torch_nor_matplotlib():
    code = ("import sys, agentgym.eval, agentgym.app.eval_cli, agentgym.eval.compare, agentgym.eval.transcript; "
            "print('torch' in sys.modules, 'matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
