"""The program that runs INSIDE the sandbox for a `general` episode: it owns the DB, runs generated tools/verifiers.

Standard library only; the host never imports this module, it copies the file into the sandbox and runs it as
``python worker_main.py worker.sock``. It serves newline-delimited JSON requests on that Unix socket, one at a time:

- ``{"op": "load", "tools": "tools.py", "db": "episode-3.sqlite", "names": [...]}`` → ``{"ok": true, "db_sha256": H}``
  (re-executes tools.py only when it changed; opens the fresh DB copy and deletes the previous one).
- ``{"op": "call", "name": N, "arguments": {...}}`` → ``{"ok": true, "result": JSON}`` or
  ``{"ok": false, "error": "...", "kind": "model_error" | "env_error"}``. The change a tool makes is committed.
- ``{"op": "verify", "source": S, "answer": A}`` → ``{"ok": true, "passed": bool, "reasons": [...]}``.

A tool signals the agent's mistake by raising ValueError, KeyError or LookupError (its message is shown); any other
exception is a bug in the generated tool and is reported as an env error.
"""

import hashlib
import json
import os
import socket
import sqlite3
import sys
import traceback

AGENT_ERRORS = (ValueError, KeyError, LookupError)


def db_sha256(db):
    """The DB's content hash: SHA-256 of its SQL dump (the same definition the synthesis pipeline uses)."""
    digest = hashlib.sha256()
    for line in db.iterdump():
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


class Worker:
    def __init__(self):
        self.db = None
        self.db_path = None
        self.tools = {}
        self.tools_source = None

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

    def verify(self, request):
        namespace = {"__name__": "verifier"}
        try:
            exec(compile(request["source"], "verifier.py", "exec"), namespace)
            out = namespace["verify"](request["answer"], self.db)
        except Exception as e:  # noqa: BLE001 - a verifier that crashes on an answer rejects it
            return {"ok": True, "passed": False, "reasons": [f"verifier raised {type(e).__name__}: {e}"]}
        passed, reasons = normalize_verdict(out)
        return {"ok": True, "passed": passed, "reasons": reasons}


def normalize_verdict(out):
    """A verifier may return a bool, a (bool, reasons) pair, or {"passed": bool, "reasons": [...]}."""
    if isinstance(out, dict):
        return out.get("passed") is True, [str(r) for r in out.get("reasons", [])]
    if isinstance(out, (tuple, list)) and len(out) == 2:
        reasons = out[1] if isinstance(out[1], (list, tuple)) else [out[1]]
        return out[0] is True, [str(r) for r in reasons]
    return out is True, []


def serve(path):
    worker = Worker()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    conn, _ = server.accept()
    reader = conn.makefile("rb")
    for line in reader:
        try:
            request = json.loads(line)
            handler = getattr(worker, request["op"])
            response = handler(request)
        except Exception as e:  # noqa: BLE001 - keep serving; the host decides what to do
            response = {"ok": False, "error": f"worker: {type(e).__name__}: {e}", "kind": "env_error",
                        "traceback": traceback.format_exc()[-2000:]}
        conn.sendall((json.dumps(response) + "\n").encode())


if __name__ == "__main__":
    serve(sys.argv[1])
