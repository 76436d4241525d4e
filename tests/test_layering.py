"""Data flows one way (synth → tasks → envs → rollout → rl → model): every module's imports are checked against the map.

Module-level imports must be in `ALLOWED`; imports inside a function (imported on demand) may also use `ON_DEMAND`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"agentgym": ROOT / "agentgym", "agentgym.envs": ROOT / "envs", "agentgym.synth": ROOT / "synth",
                "agentgym.model": ROOT / "model"}

CORE = ["agentgym.api", "agentgym.errors"]
# The most specific prefix wins. A module may always import from its own package (first two name components).
ALLOWED: dict[str, list[str]] = {
    "agentgym.api": [],
    "agentgym.errors": [],
    "agentgym.jsonio": [],
    "agentgym.passk": [],
    "agentgym.junit": [],
    "agentgym.filetree": [],
    "agentgym.cache": [],
    "agentgym.pyast": [],
    "agentgym.tools": CORE,
    "agentgym.registry": CORE,
    "agentgym.taskio": CORE + ["agentgym.jsonio"],
    "agentgym.toolenv": CORE + ["agentgym.tools"],
    "agentgym.gym": CORE + ["agentgym.registry"],
    "agentgym.checker": CORE + ["agentgym.gym"],
    "agentgym.sandbox": CORE,
    "agentgym.envs": CORE + ["agentgym.tools", "agentgym.toolenv", "agentgym.sandbox", "agentgym.jsonio",
                             "agentgym.junit", "agentgym.filetree", "agentgym.cache", "agentgym.pyast"],
    "agentgym.rollout": CORE + ["agentgym.tools", "agentgym.registry", "agentgym.jsonio", "agentgym.taskio"],
    "agentgym.synth": CORE + ["agentgym.passk", "agentgym.junit", "agentgym.filetree", "agentgym.cache", "agentgym.pyast",
                              "agentgym.registry", "agentgym.sandbox", "agentgym.rollout", "agentgym.tools",
                              "agentgym.toolenv", "agentgym.taskio", "agentgym.jsonio"],
    "agentgym.rl": CORE + ["agentgym.rollout", "agentgym.model", "agentgym.registry", "agentgym.taskio",
                           "agentgym.jsonio", "agentgym.tools", "agentgym.eval"],
    "agentgym.eval": CORE + ["agentgym.passk", "agentgym.rollout", "agentgym.registry", "agentgym.taskio", "agentgym.jsonio",
                             "agentgym.checker"],
    "agentgym.interop": CORE + ["agentgym.tools", "agentgym.toolenv", "agentgym.registry", "agentgym.jsonio",
                                "agentgym.taskio", "agentgym.rollout"],
    "agentgym.recipe": CORE + ["agentgym.rl", "agentgym.rollout", "agentgym.eval", "agentgym.model", "agentgym.registry",
                               "agentgym.taskio", "agentgym.jsonio", "agentgym.passk"],
    "agentgym.model": [],
    "agentgym.quickstart": CORE + ["agentgym.registry", "agentgym.rollout"],
    "agentgym.cli": ["agentgym"],
    "agentgym": CORE + ["agentgym.registry"],  # the package __init__ re-exports the public surface
}
ON_DEMAND: dict[str, list[str]] = {
    "agentgym.rollout": ["agentgym.model"],
    "agentgym.synth": ["agentgym.model"],
    "agentgym.checker": ["agentgym.gym"],
}
# Third-party modules some layers must never import at module level (so `agentgym envs list` stays light).
FORBIDDEN_THIRD_PARTY = {"agentgym.api": ["torch", "gymnasium", "typer"], "agentgym.cli": ["torch"],
                         "agentgym.registry": ["torch"], "agentgym.eval": ["torch"]}


def modules() -> list[tuple[str, Path]]:
    out = []
    for pkg, folder in PACKAGE_DIRS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([pkg, *parts])
            if pkg == "agentgym" and parts and parts[0] in ("envs", "synth", "model"):
                continue
            out.append((name, path))
    return sorted(out)


def rule_key(module: str, table: dict[str, list[str]]) -> str | None:
    best = None
    for key in table:
        if (module == key or module.startswith(key + ".")) and (best is None or len(key) > len(best)):
            best = key
    return best


def imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """(imported module, is_on_demand) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((a.name, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                found.append((target, in_function))
                if child.module is None or target in PACKAGE_DIRS or target == "agentgym":
                    found.extend((f"{target}.{a.name}", in_function) for a in child.names)
            visit(child, nested)

    visit(tree, False)
    return found


def own_package(module: str) -> str:
    """What a module may always import: its own env package (agentgym.envs.NAME) or its own top-level subpackage."""
    parts = module.split(".")
    return ".".join(parts[:3]) if parts[:2] == ["agentgym", "envs"] else ".".join(parts[:2])


def violations() -> list[str]:
    problems = []
    for module, path in modules():
        key = rule_key(module, ALLOWED)
        assert key is not None, f"{module} has no layering rule; add one to tests/test_layering.py"
        allowed = ALLOWED[key]
        extra = ON_DEMAND.get(rule_key(module, ON_DEMAND) or "", [])
        for target, on_demand in imports(path, module):
            top = target.split(".")[0]
            for bad in FORBIDDEN_THIRD_PARTY.get(key, []):
                if top == bad and not on_demand:
                    problems.append(f"{module} imports {target} at module level")
            if top != "agentgym" or target == "agentgym":
                continue
            if target.startswith(own_package(module)) or own_package(module).startswith(target + "."):
                continue
            if key == "agentgym.envs" and target.startswith("agentgym.envs."):
                problems.append(f"{module} imports another env: {target}")
                continue
            ok = any(target == a or target.startswith(a + ".") for a in allowed)
            if not ok and on_demand:
                ok = any(target == a or target.startswith(a + ".") for a in extra)
            if not ok:
                problems.append(f"{module} imports {target}{' (on demand)' if on_demand else ''}")
    return problems


def test_imports_follow_the_one_way_layering():
    assert violations() == []


def test_the_checker_itself_catches_a_back_import(tmp_path, monkeypatch):
    fake = tmp_path / "model"
    fake.mkdir()
    (fake / "bad.py").write_text("from agentgym.rollout import run_episode\n")
    monkeypatch.setitem(PACKAGE_DIRS, "agentgym.model", fake)
    assert violations() == ["agentgym.model.bad imports agentgym.rollout"]


@pytest.mark.parametrize("module", ["agentgym.api", "agentgym.cli", "agentgym.registry"])
def test_light_modules_do_not_import_torch(module):
    import subprocess
    import sys

    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
