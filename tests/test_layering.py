"""Data flows one way (synth → tasks → envs → rollout → rl → model): every module's imports are checked against the map.

Module-level imports must be in `ALLOWED`; imports inside a function (imported on demand) may also use `ON_DEMAND`.
The base imports no layer, the application wing (`agentgym.app`) is the only place that imports every layer, no
modules import each other in a cycle, and no module is longer than `MAX_LINES` (docs/architecture.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIRS = {"agentgym": ROOT / "agentgym", "agentgym.envs": ROOT / "envs", "agentgym.synth": ROOT / "synth",
                "agentgym.model": ROOT / "model"}

CORE = ["agentgym.api", "agentgym.errors"]
# The base every layer stands on. A base module imports only other base modules: never a layer, never the app, not even
# inside a function (ON_DEMAND has no entry for them).
BASE = ["agentgym.api", "agentgym.errors", "agentgym.registry", "agentgym.tools", "agentgym.sandbox", "agentgym.toolenv",
        "agentgym.jsonio", "agentgym.diskcache", "agentgym.filetree", "agentgym.junit", "agentgym.passk",
        "agentgym.pyast", "agentgym.taskio", "agentgym.gym", "agentgym.checker"]
# The layers, in the order data flows through them (synth → tasks → envs → rollout → rl → model), plus eval beside rl
# and interop (envs made from other ecosystems) beside envs.
LAYERS = ["agentgym.synth", "agentgym.envs", "agentgym.interop", "agentgym.rollout", "agentgym.eval", "agentgym.rl",
          "agentgym.model"]
APP = "agentgym.app"
# The most specific prefix wins. A module may always import from its own package (first two name components).
ALLOWED: dict[str, list[str]] = {
    "agentgym.api": [],
    "agentgym.errors": [],
    "agentgym.jsonio": [],
    "agentgym.passk": [],
    "agentgym.junit": [],
    "agentgym.filetree": [],
    "agentgym.diskcache": [],
    "agentgym.pyast": [],
    "agentgym.tools": CORE,
    "agentgym.registry": CORE,
    "agentgym.taskio": CORE + ["agentgym.jsonio"],
    "agentgym.tasksource": CORE + ["agentgym.registry", "agentgym.taskio", "agentgym.jsonio"],
    "agentgym.heldout": CORE,
    "agentgym.toolenv": CORE + ["agentgym.tools"],
    "agentgym.gym": CORE + ["agentgym.registry"],
    "agentgym.fuzz": CORE + ["agentgym.registry", "agentgym.tools"],
    "agentgym.checker": CORE + ["agentgym.gym"],
    "agentgym.sandbox": CORE + ["agentgym.diskcache"],
    "agentgym.envs": CORE + ["agentgym.tools", "agentgym.toolenv", "agentgym.sandbox", "agentgym.jsonio",
                             "agentgym.junit", "agentgym.filetree", "agentgym.diskcache", "agentgym.pyast"],
    "agentgym.interop": CORE + ["agentgym.tools", "agentgym.toolenv", "agentgym.jsonio", "agentgym.taskio"],
    "agentgym.rollout": CORE + ["agentgym.tools", "agentgym.registry", "agentgym.jsonio", "agentgym.taskio"],
    "agentgym.synth": CORE + ["agentgym.passk", "agentgym.junit", "agentgym.filetree", "agentgym.diskcache",
                              "agentgym.pyast", "agentgym.registry", "agentgym.sandbox", "agentgym.rollout",
                              "agentgym.tools", "agentgym.toolenv", "agentgym.taskio", "agentgym.jsonio",
                              "agentgym.tasksource"],
    # rl runs its held-out evaluation through eval's runner; eval never imports rl.
    "agentgym.rl": CORE + ["agentgym.rollout", "agentgym.model", "agentgym.registry", "agentgym.taskio",
                           "agentgym.jsonio", "agentgym.tools", "agentgym.eval", "agentgym.tasksource",
                           "agentgym.heldout"],
    "agentgym.eval": CORE + ["agentgym.passk", "agentgym.rollout", "agentgym.registry", "agentgym.taskio", "agentgym.jsonio",
                             "agentgym.checker"],
    "agentgym.model": [],
    APP: ["agentgym"],  # the application wing: the one place that may import every layer
    "agentgym": CORE + ["agentgym.registry"],  # the package __init__ re-exports the public surface
}
ON_DEMAND: dict[str, list[str]] = {
    "agentgym.rollout": ["agentgym.model"],
    "agentgym.synth": ["agentgym.model"],
}
# Third-party modules some layers must never import at module level (so `agentgym envs list` stays light).
FORBIDDEN_THIRD_PARTY = {"agentgym.api": ["torch", "gymnasium", "typer"], APP: ["torch"],
                         "agentgym.registry": ["torch"], "agentgym.eval": ["torch"]}
MAX_LINES = 400
"""No module in agentgym/, envs/, synth/ or model/ is longer than this (STYLE.md: one idea per file)."""


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


@pytest.mark.parametrize("module", ["agentgym.api", "agentgym.app.cli", "agentgym.registry"])
def test_light_modules_do_not_import_torch(module):
    import subprocess
    import sys

    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_base_imports_no_layer_and_no_app_even_on_demand():
    problems = []
    for module, path in modules():
        if rule_key(module, {b: [] for b in BASE}) is None:
            continue
        for target, on_demand in imports(path, module):
            if any(target == up or target.startswith(up + ".") for up in [*LAYERS, APP]):
                problems.append(f"{module} imports {target}{' (on demand)' if on_demand else ''}")
    assert problems == []


def test_only_the_app_may_import_every_layer():
    """Every rule but the app's leaves some layer out: the application wing is the one place where all of them meet."""
    for key, allowed in ALLOWED.items():
        covered = {layer for layer in LAYERS if any(layer == a or layer.startswith(a + ".") for a in allowed)}
        covered |= {layer for layer in LAYERS if layer == own_package(key)}
        if key == APP:
            assert covered == set(LAYERS)
        else:
            assert covered != set(LAYERS), f"{key} may import every layer; only {APP} may"
    assert not any(key in ON_DEMAND for key in BASE)


def module_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports (at module level or on demand), resolved to modules that exist here."""
    paths = dict(modules())

    def resolve(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in paths.items():
        deps = {resolve(target) for target, _ in imports(path, module)}
        is_package = path.name == "__init__.py"
        graph[module] = {d for d in deps if d and d != module and not (is_package and d.startswith(module + "."))}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_no_import_cycles():
    assert import_cycles(module_graph()) == []


def test_the_cycle_check_finds_a_loop():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_no_module_is_longer_than_the_limit():
    too_long = {module: n for module, path in modules()
                if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert too_long == {}, f"split these by idea (STYLE.md): {too_long}"


def test_no_file_is_named_commands_py():
    """A file's name says what it holds: the CLI glue lives in agentgym/app/*_cli.py."""
    assert [path for _, path in modules() if path.name == "commands.py"] == []
