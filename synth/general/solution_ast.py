"""The static half of the "tools only" check: a reference solution may call tools and compute, nothing else.

The dynamic half runs in the sandbox: the solution gets a tools object that holds no DB handle and a builtins table
without open/import/eval/getattr. Statically we parse (never run) the source and reject imports, dunder access,
introspection names, and calls other than ``tools.<tool>(keyword=...)``, safe builtins, its own functions and a short
list of plain data methods.
"""

from __future__ import annotations

import ast
from agentgym.pyast import parse

SAFE_BUILTINS = {"abs", "all", "any", "bool", "dict", "enumerate", "filter", "float", "int", "isinstance", "len",
                 "list", "map", "max", "min", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple",
                 "zip", "ValueError", "KeyError", "Exception"}
DATA_METHODS = {"append", "extend", "get", "items", "keys", "values", "lower", "upper", "strip", "split", "join",
                "sort", "add", "update", "pop", "count", "index", "startswith", "endswith", "replace", "setdefault",
                "copy", "remove", "insert", "discard", "union", "intersection", "difference", "title"}
BANNED_NAMES = {"open", "exec", "eval", "compile", "globals", "locals", "vars", "getattr", "setattr", "delattr",
                "input", "breakpoint", "type", "object", "super", "memoryview", "db", "sqlite3", "os", "sys",
                "builtins", "print", "help", "dir", "id", "hash", "classmethod", "staticmethod", "property"}


def check_tools_only(source: str, tool_names: list[str]) -> list[str]:
    """Problems found in a solution's source (an empty list means it only calls tools and computes)."""
    try:
        tree = parse(source)
    except SyntaxError as e:
        return [f"does not parse: {e.msg} (line {e.lineno})"]
    problems: list[str] = []
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda)) and hasattr(n, "name")}
    defined |= {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Lambda)
                for t in n.targets if isinstance(t, ast.Name)}  # fmt: skip
    for node in tree.body:
        is_constant = isinstance(node, ast.Assign) and _is_literal(node.value)
        if not (isinstance(node, ast.FunctionDef) or is_constant):
            problems.append(f"line {node.lineno}: only functions and constant assignments may appear at top level")
    if not any(isinstance(n, ast.FunctionDef) and n.name == "solution" for n in tree.body):
        problems.append("no top-level `def solution(tools)`")
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.ClassDef, ast.AsyncFunctionDef,
                             ast.Await, ast.Yield, ast.YieldFrom, ast.With, ast.Try, ast.Delete)):
            problems.append(f"{where}: {type(node).__name__} is not allowed")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            problems.append(f"{where}: private attribute {node.attr!r}")
        elif isinstance(node, ast.Name) and (node.id in BANNED_NAMES or node.id.startswith("__")):
            problems.append(f"{where}: name {node.id!r} is not allowed")
        elif isinstance(node, ast.Call):
            problems += _check_call(node, where, tool_names, defined)
    return problems


def _check_call(node: ast.Call, where: str, tool_names: list[str], defined: set[str]) -> list[str]:
    func = node.func
    if isinstance(func, ast.Name):
        return [] if func.id in SAFE_BUILTINS | defined else [f"{where}: call of {func.id!r} is not allowed"]
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id == "tools":
            if func.attr not in tool_names:
                return [f"{where}: tools.{func.attr} is not a tool of this environment"]
            return [f"{where}: tools.{func.attr} must be called with keyword arguments"] if node.args else []
        return [] if func.attr in DATA_METHODS else [f"{where}: method {func.attr!r} is not allowed"]
    return [f"{where}: only named functions, tools and data methods may be called"]


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True
