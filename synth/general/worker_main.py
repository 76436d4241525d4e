"""The program that runs INSIDE the sandbox while the pipeline checks one candidate environment and its tasks.

Standard library only; the host copies this file into the sandbox and runs ``python worker_main.py worker.sock``. It
serves newline-delimited JSON requests on that Unix socket (same framing as the `general` env's worker; the DB hash
definition is the one documented in the environment-folder format):

- ``build``  ``{"sql": [...], "db": "base.sqlite"}``: create the DB from SQL statements → ``{"db_sha256"}``.
- ``load``   ``{"tools": "tools.py", "names": [...]}``: execute tools.py and pick the tool functions.
- ``solve``  ``{"source", "db": "base.sqlite", "out": "run-1.sqlite", "use_tools": bool}``: copy the DB to `out`,
  run ``solution(tools)`` on it → ``{"answer", "error", "calls", "db_sha256", "tools_hold_db"}``. With
  ``use_tools=false`` every tool call fails (the "no shortcut" probe).
- ``verify`` ``{"source", "answers": [...], "db": name}``: run ``verify(answer, db)`` on a fresh copy of `db` per answer
  → ``{"results": [[passed, reasons], ...]}``.
"""

import builtins
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import sys

SAFE_NAMES = ("abs", "all", "any", "bool", "dict", "enumerate", "filter", "float", "int", "isinstance", "len", "list",
              "map", "max", "min", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
              "ValueError", "KeyError", "Exception")
SAFE_BUILTINS = {name: getattr(builtins, name) for name in SAFE_NAMES}
"""The only builtins a solution sees: no open/import/eval/getattr, so it reaches the world through `tools` alone."""


class ToolCallError(Exception):
    """A tool call from the solution failed (bad arguments, or tools are switched off)."""


def db_sha256(db):
    digest = hashlib.sha256()
    for line in db.iterdump():
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def roundtrip(value):
    """What the agent would see: the value after a JSON round trip."""
    return json.loads(json.dumps(value))


class Worker:
    def __init__(self):
        self.tools = {}

    def build(self, request):
        if os.path.exists(request["db"]):
            os.unlink(request["db"])
        db = sqlite3.connect(request["db"])
        db.execute("PRAGMA synchronous = OFF")
        body = ";\n".join(s.rstrip().rstrip(";") for s in request["sql"])
        db.executescript("BEGIN;\n" + body + ";\nCOMMIT;")
        db.commit()
        digest = db_sha256(db)
        db.close()
        return {"ok": True, "db_sha256": digest}

    def load(self, request):
        namespace = {"__name__": "env_tools"}
        with open(request["tools"], encoding="utf-8") as f:
            exec(compile(f.read(), "tools.py", "exec"), namespace)
        self.tools = {n: namespace[n] for n in request["names"] if callable(namespace.get(n))}
        missing = [n for n in request["names"] if n not in self.tools]
        return {"ok": not missing, "error": f"tools.py defines no function for {missing}" if missing else None}

    def solve(self, request):
        shutil.copyfile(request["db"], request["out"])
        db = sqlite3.connect(request["out"], isolation_level=None)
        calls = []
        use_tools = request.get("use_tools", True)

        def dispatch(name, arguments):
            if not use_tools:
                raise ToolCallError("tools are unavailable")
            try:
                db.execute("BEGIN")
                result = roundtrip(self.tools[name](db, **arguments))
                db.execute("COMMIT")
            except Exception as e:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise ToolCallError(f"{name}: {type(e).__name__}: {e}") from None
            calls.append({"name": name, "arguments": roundtrip(arguments), "result": result})
            return result

        def make(name):
            def call(**arguments):
                return dispatch(name, arguments)
            return call

        tools_class = type("Tools", (), {n: staticmethod(make(n)) for n in self.tools} | {"__slots__": ()})
        tools = tools_class()
        holds_db = any(isinstance(v, (sqlite3.Connection, sqlite3.Cursor)) for v in vars(tools_class).values())
        namespace = {"__builtins__": dict(SAFE_BUILTINS), "__name__": "solution"}
        answer, error = None, None
        try:
            exec(compile(request["source"], "solution.py", "exec"), namespace)
            answer = roundtrip(namespace["solution"](tools))
        except Exception as e:  # noqa: BLE001 - the pipeline records why the solution failed
            error = f"{type(e).__name__}: {e}"
        digest = db_sha256(db)
        db.close()
        return {"ok": True, "answer": answer, "error": error, "calls": calls, "db_sha256": digest,
                "tools_hold_db": holds_db}

    def verify(self, request):
        results = []
        for answer in request["answers"]:
            shutil.copyfile(request["db"], "verify.sqlite")
            db = sqlite3.connect("verify.sqlite")
            namespace = {"__name__": "verifier"}
            try:
                exec(compile(request["source"], "verifier.py", "exec"), namespace)
                results.append(normalize_verdict(namespace["verify"](answer, db)))
            except Exception as e:  # noqa: BLE001 - a verifier that crashes on an answer rejects it
                results.append([False, [f"verifier raised {type(e).__name__}: {e}"]])
            db.close()
        return {"ok": True, "results": results}


def normalize_verdict(out):
    if isinstance(out, dict):
        return [out.get("passed") is True, [str(r) for r in out.get("reasons", [])]]
    if isinstance(out, (tuple, list)) and len(out) == 2:
        reasons = out[1] if isinstance(out[1], (list, tuple)) else [out[1]]
        return [out[0] is True, [str(r) for r in reasons]]
    return [out is True, []]


def serve(path):
    worker = Worker()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    conn, _ = server.accept()
    for line in conn.makefile("rb"):
        try:
            request = json.loads(line)
            response = getattr(worker, request["op"])(request)
        except Exception as e:  # noqa: BLE001 - keep serving; the host decides
            response = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        conn.sendall((json.dumps(response) + "\n").encode())


if __name__ == "__main__":
    serve(sys.argv[1])
