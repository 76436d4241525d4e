"""`ast.parse` behind one process-wide lock.

CPython 3.11 keeps the AST converter's recursion counter per interpreter, not per thread, so parses racing in worker
threads (`asyncio.to_thread`) can fail with "SystemError: AST constructor recursion depth mismatch". Every in-process
parse of agentgym goes through here.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, filename: str = "<unknown>", mode: str = "exec") -> ast.AST:
    """`ast.parse(source, filename, mode)`, one thread at a time."""
    with _LOCK:
        return ast.parse(source, filename, mode)
