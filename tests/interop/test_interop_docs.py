"""The runnable examples in docs/interop.md (datasets, OpenEnv and HTTP) run as written."""

from __future__ import annotations

import re
from pathlib import Path

import agentgym

DOC = (Path(__file__).resolve().parents[2] / "docs" / "interop.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)


def test_the_dataset_openenv_and_http_examples_run(capsys):
    try:
        for code in BLOCKS[:3]:
            exec(compile(code, "docs/interop.md", "exec"), {})  # noqa: S102 - our own documentation
    finally:
        agentgym.registry.default.unregister("gcd")
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("reward=1.0 passed=True") and out[1:] == ["('arith-0-0', 1.0, True)", "1.0"]
