"""The plugin package template in docs/plugins.md is complete: it installs with pip and agentgym finds its env.

It is also the package in tests/external/echo_plugin (which tests/test_external_plugin.py installs into the venv), so
the page and the tested package cannot drift apart.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
EXTERNAL = ROOT / "tests" / "external" / "echo_plugin"
DIST_NAME = "agentgym-rl"


def template_files() -> dict[str, str]:
    """Every `**`path`**` heading of the plugin guide followed by a code block: {path: its text}."""
    return dict(re.findall(r"^\*\*`([^`]+)`\*\*\n\n```[a-z]*\n(.*?)^```$", DOC, flags=re.S | re.M))


def test_the_template_is_the_tested_external_package():
    files = template_files()
    assert sorted(files) == ["agentgym_echo_plugin/__init__.py", "pyproject.toml"]
    for path, text in files.items():
        assert (EXTERNAL / path).read_text(encoding="utf-8") == text, f"docs/plugins.md and tests/external/{path} differ"


def test_the_template_depends_on_agentgyms_distribution_name():
    project = tomllib.loads(template_files()["pyproject.toml"])["project"]
    assert project["name"] and project["version"]
    assert [d for d in project["dependencies"] if d.startswith("agentgym")] == [f"{DIST_NAME}>=0.1"]
    ours = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert ours["name"] == DIST_NAME
    builtins = {ep.name for ep in md.distribution(DIST_NAME).entry_points if ep.group == "agentgym.envs"}
    assert "arith" in builtins  # this checkout is installed under that name
    assert f"pip install {DIST_NAME}" in DOC


WRONG_NAME = re.compile(r"agentgym\[|install agentgym(?![-\w])")


def test_no_install_hint_names_the_wrong_distribution():
    """`pip install 'agentgym[x]'` would fetch PyPI's unrelated `agentgym`."""
    assert WRONG_NAME.search("pip install 'agentgym[mcp]'") and not WRONG_NAME.search("pip install agentgym-rl")
    offenders = []
    for folder in ("agentgym", "envs", "synth", "model", "docs", "scripts", "benchmarks", "examples"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".sh", ".toml") and WRONG_NAME.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    for path in (ROOT / "README.md", ROOT / "pyproject.toml"):
        if WRONG_NAME.search(path.read_text(encoding="utf-8")):
            offenders.append(path.name)
    assert offenders == []


def test_the_template_installs_and_its_entry_point_is_found(tmp_path):
    source = tmp_path / "echo_plugin"
    for path, text in template_files().items():
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(text, encoding="utf-8")
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--no-cache-dir", "-q", "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (dist,) = [d for d in md.distributions(path=[str(target)]) if d.metadata["Name"] == "agentgym-echo-plugin"]
    assert dist.requires == [f"{DIST_NAME}>=0.1"]
    (ep,) = [ep for ep in dist.entry_points if ep.group == "agentgym.envs"]
    assert (ep.name, ep.value) == ("echo", "agentgym_echo_plugin:EchoEnv")
    # A new interpreter that sees the target finds the env through agentgym's own registry and plays it.
    code = ("import asyncio, agentgym\n"
            "env = agentgym.make('echo')\n"
            "task = env.sample_tasks(1)[0]\n"
            "async def play():\n"
            "    await env.reset(task, seed=0)\n"
            "    return await env.step(env.reference_action(task))\n"
            "print(type(env).__module__, asyncio.run(play()).reward)\n")
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["agentgym_echo_plugin", "1.0"]
