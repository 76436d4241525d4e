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
                                         "wrong answer fails", "reference policy", "bad actions", "determinism",
                                         "close twice", "gymnasium"]
    assert all(r.passed for r in results)


ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_every_path_the_architecture_page_names_exists():
    """Each backticked path in docs/architecture.md (a `dir/` or a file with a suffix) is in the tree."""
    root = ARCHITECTURE.parents[1]
    text = ARCHITECTURE.read_text(encoding="utf-8")
    paths = [p for p in re.findall(r"`([^`\s]+)`", text)
             if re.fullmatch(r"[\w./-]+", p) and ("/" in p or re.search(r"\.(py|md|toml|yaml)$", p))]
    assert len(paths) > 30
    assert [p for p in paths if not (root / p).exists()] == []


def test_the_readme_layout_links_the_architecture_page():
    readme = (ARCHITECTURE.parents[1] / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1]
    assert "(docs/architecture.md)" in layout
