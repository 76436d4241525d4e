"""The program that runs INSIDE the sandbox to execute generated tools, solutions and verifiers over a SQLite DB.

Standard library only; the host never imports this module, it copies the file into the sandbox and runs it as
``python tool_worker_main.py worker.sock`` (see `agentgym.sandbox.tool_worker.ToolWorker`). It serves
newline-delimited JSON requests on that Unix socket, one at a time. Both the `general` env (one worker per env
instance, one DB copy per episode) and the synthesis pipeline (one worker per candidate environment) drive it:

- ``build``  ``{"sql": [...], "db": "base.sqlite"}``: create the DB from SQL statements → ``{"ok", "db_sha256"}``.
- ``load``   ``{"tools": "tools.py", "names": [...], "db"?: "episode-3.sqlite"}`` → ``{"ok": true}``, plus
  ``"db_sha256"`` with "db": re-executes tools.py only when it changed; with "db" it opens that fresh DB copy as the
  episode's DB and deletes the previous one.
- ``call``   ``{"name": N, "arguments": {...}}`` → ``{"ok": true, "result": JSON}`` or
  ``{"ok": false, "error": "...", "kind": "model_error" | "env_error"}``: one tool on the episode's DB, committed.
- ``solve``  ``{"source", "db": "base.sqlite", "out": "run-1.sqlite", "use_tools": bool}``: copy the DB to `out`,
  run ``solution(tools)`` on it → ``{"answer", "error", "calls", "db_sha256", "tools_hold_db"}``. With
  ``use_tools=false`` every tool call fails (the "no shortcut" probe).
- ``verify`` ``{"source", "answers": [...], "db"?: name}``: run ``verify(answer, db)`` per answer, on a fresh copy of
  `db` each, or on the episode's DB without "db" → ``{"ok": true, "results": [[passed, reasons], ...]}``.

A tool signals the agent's mistake by raising ValueError, KeyError or LookupError (its message is shown); any other
exception is a bug in the generated tool and is reported as an env error.
"""

import builtins
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import sys
import traceback

AGENT_ERRORS = (ValueError, KeyError, LookupError, OverflowError, RecursionError)  # what bad arguments raise
SAFE_NAMES = ("abs", "all", "any", "bool", "dict", "enumerate", "filter", "float", "int", "isinstance", "len", "list",
              "map", "max", "min", "range", "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
              "ValueError", "KeyError", "Exception")
SAFE_BUILTINS = {name: getattr(builtins, name) for name in SAFE_NAMES}
"""The only builtins a solution sees: no open/import/eval/getattr, so it reaches the world through `tools` alone."""


class ToolCallError(Exception):
    """A tool call from the solution failed (bad arguments, or tools are switched off)."""


def db_sha256(db):
    """The DB's content hash: SHA-256 of its SQL dump (the definition documented in the environment-folder format)."""
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
        self.db = None
        self.db_path = None
        self.tools = {}
        self.tools_source = None

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
        with open(request["tools"], encoding="utf-8") as f:
            source = f.read()
        if source != self.tools_source:
            namespace = {"__name__": "env_tools"}
            exec(compile(source, "tools.py", "exec"), namespace)
            self.tools = {n: namespace[n] for n in request["names"] if callable(namespace.get(n))}
            self.tools_source = source
        missing = [n for n in request["names"] if n not in self.tools]
        if missing:
            return {"ok": False, "error": f"tools.py defines no function for {missing}", "kind": "env_error"}
        if request.get("db") is None:
            return {"ok": True}
        if self.db is not None:
            self.db.close()
            if self.db_path != request["db"]:
                os.unlink(self.db_path)
        self.db_path = request["db"]
        self.db = sqlite3.connect(self.db_path, isolation_level=None)
        return {"ok": True, "db_sha256": db_sha256(self.db)}

    def call(self, request):
        fn = self.tools.get(request["name"])
        if fn is None:
            return {"ok": False, "error": f"unknown tool {request['name']!r}", "kind": "model_error"}
        try:
            self.db.execute("BEGIN")
            result = fn(self.db, **request["arguments"])
            self.db.execute("COMMIT")
        except AGENT_ERRORS as e:
            self.db.execute("ROLLBACK")
            message = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
            return {"ok": False, "error": str(message), "kind": "model_error"}
        except Exception as e:  # noqa: BLE001 - a generated tool's bug is the env's fault
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            return {"ok": False, "error": f"{type(e).__name__}: {e}", "kind": "env_error"}
        try:
            json.dumps(result)
        except (TypeError, ValueError) as e:
            return {"ok": False, "error": f"tool returned a non-JSON value: {e}", "kind": "env_error"}
        return {"ok": True, "result": result}

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
            scratch = request.get("db") is not None
            if scratch:
                shutil.copyfile(request["db"], "verify.sqlite")
            db = sqlite3.connect("verify.sqlite") if scratch else self.db
            namespace = {"__name__": "verifier"}
            try:
                exec(compile(request["source"], "verifier.py", "exec"), namespace)
                results.append(normalize_verdict(namespace["verify"](answer, db)))
            except Exception as e:  # noqa: BLE001 - a verifier that crashes on an answer rejects it
                results.append([False, [f"verifier raised {type(e).__name__}: {e}"]])
            if scratch:
                db.close()
        return {"ok": True, "results": results}


def normalize_verdict(out):
    """A verifier may return a bool, a (bool, reasons) pair, or {"passed": bool, "reasons": [...]}."""
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
        except Exception as e:  # noqa: BLE001 - keep serving; the host decides what to do
            response = {"ok": False, "error": f"worker: {type(e).__name__}: {e}", "kind": "env_error",
                        "traceback": traceback.format_exc()[-2000:]}
        conn.sendall((json.dumps(response) + "\n").encode())


if __name__ == "__main__":
    serve(sys.argv[1])
