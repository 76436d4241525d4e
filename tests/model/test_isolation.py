"""agentgym.model stays usable alone: its modules import nothing else from agentgym."""

from __future__ import annotations

import ast
import pathlib

MODEL_DIR = pathlib.Path(__file__).resolve().parents[2] / "model"


def test_model_imports_only_itself_torch_and_listed_libraries():
    allowed_roots = {"torch", "numpy", "gguf", "tokenizers", "safetensors", "jinja2", "__future__", "agentgym"}
    stdlib_ok = {"dataclasses", "json", "re", "math", "importlib", "os", "typing", "collections", "contextlib",
                 "contextvars", "weakref", "functools", "pathlib"}
    for path in MODEL_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                assert root in allowed_roots | stdlib_ok, f"{path.name} imports {name}"
                if root == "agentgym":
                    assert name.startswith("agentgym.model"), f"{path.name} imports {name}"
