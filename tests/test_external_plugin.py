"""A real third-party plugin: pip-install tests/external/echo_plugin, find it through the entry point, then remove it.

The package is installed into the running interpreter's environment (offline: --no-index, --no-build-isolation) and
uninstalled at teardown, so the environment is left as it was. It is built from a copy, so no build/ or egg-info
lands in the source tree.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata as md
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import agentgym
from agentgym import registry as registry_module
from agentgym.checker import check_env
from agentgym.registry import Registry

PLUGIN_SOURCE = Path(__file__).parent / "external" / "echo_plugin"
DISTRIBUTION = "agentgym-echo-plugin"
MODULE = "agentgym_echo_plugin"

pytestmark = pytest.mark.slow


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False, timeout=300
    )


def _is_installed() -> bool:
    importlib.invalidate_caches()
    try:
        md.distribution(DISTRIBUTION)
    except md.PackageNotFoundError:
        return False
    return True


def _forget_module() -> None:
    for name in [m for m in sys.modules if m == MODULE or m.startswith(MODULE + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture(scope="module")
def echo_plugin(tmp_path_factory):
    assert not _is_installed(), f"{DISTRIBUTION} is already installed; uninstall it before running this test"
    source = tmp_path_factory.mktemp("plugin") / "echo_plugin"
    shutil.copytree(PLUGIN_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    try:
        proc = _pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir", "-q", str(source))
        assert proc.returncode == 0, f"pip install failed:\n{proc.stdout}\n{proc.stderr}"
        _forget_module()
        yield source
    finally:
        proc = _pip("uninstall", "-y", "-q", DISTRIBUTION)
        _forget_module()
        assert proc.returncode == 0, f"pip uninstall failed:\n{proc.stdout}\n{proc.stderr}"
        assert not _is_installed()
        assert not (Path(__file__).parent / "external" / "echo_plugin" / "build").exists()


def test_the_installed_distribution_declares_the_entry_point(echo_plugin):
    dist = md.distribution(DISTRIBUTION)
    (ep,) = [ep for ep in dist.entry_points if ep.group == "agentgym.envs"]
    assert (ep.name, ep.value) == ("echo", f"{MODULE}:EchoEnv")


def test_a_fresh_registry_finds_and_runs_the_plugin(echo_plugin):
    registry = Registry()
    specs = {s.name: s for s in registry.list_envs()}
    assert {"arith", "echo"} <= set(specs)  # the plugin sits next to the built-ins
    assert specs["echo"].source == f"plugin {DISTRIBUTION} 0.1.0"
    assert specs["echo"].entry_point_str == f"{MODULE}:EchoEnv"
    assert specs["echo"].error is None

    env = registry.make("echo", max_turns=2)
    assert type(env).__module__ == MODULE and env.max_turns == 2
    assert isinstance(env, agentgym.Env)

    async def episode():
        task = env.sample_tasks(1, seed=3)[0]
        await env.reset(task, seed=0)
        result = await env.step(env.reference_action(task))
        await env.close()
        return task, result

    task, result = asyncio.run(episode())
    assert result.terminated and result.verdict.passed and result.reward == 1.0
    assert result.verdict.reasons == [f"submitted {task.data['word']!r}, expected {task.data['word']!r}"]


def test_agentgym_make_finds_the_plugin_after_discovery_is_reset(echo_plugin, monkeypatch):
    monkeypatch.setattr(registry_module, "default", Registry())  # a fresh default; the real one is restored after
    env = agentgym.make("echo")
    assert type(env).__name__ == "EchoEnv"
    assert "echo" in [s.name for s in agentgym.list_envs()]


def test_the_plugin_passes_the_contract_checker(echo_plugin):
    registry = Registry()
    results = check_env(lambda: registry.make("echo"))
    assert all(r.passed for r in results) and len(results) == 10  # "reference policy" reports itself skipped


def test_the_cli_in_a_new_process_checks_the_plugin(echo_plugin):
    agentgym_script = Path(sys.executable).with_name("agentgym")
    proc = subprocess.run(
        [str(agentgym_script), "envs", "check", "echo"], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "env 'echo' passes all 10 checks"
