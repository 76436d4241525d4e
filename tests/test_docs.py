"""The plugin guide's example env is real: it registers, passes every contract check, and solves its own tasks."""

from __future__ import annotations

import re
from pathlib import Path

from agentgym.checker import check_env
from agentgym.registry import Registry

DOC = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")


def test_plugin_guide_example_passes_the_checker():
    code = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)[0]
    namespace: dict = {}
    exec(compile(code, "docs/plugins.md", "exec"), namespace)  # noqa: S102 - our own documentation
    registry = Registry(group="agentgym.tests.none")
    registry.register("lookup", namespace["LookupEnv"], max_turns=4)
    env = registry.make("lookup")
    assert env.max_turns == 4
    results = check_env(lambda: registry.make("lookup"))
    assert [r.name for r in results] == ["tools", "step before reset", "reset", "reference solves",
                                         "wrong answer fails", "bad actions", "determinism", "close twice", "gymnasium"]
    assert all(r.passed for r in results)
