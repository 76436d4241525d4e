"""Child-process script: import the standard library module by module and print its API documentation as JSON lines.

It runs in a separate interpreter (see `python_docs.py`) because importing modules has side effects (signal handlers,
printed banners, registered codecs) that must not leak into the caller, and so the caller can kill it at a deadline and
keep what was already printed. It imports nothing but the standard library and never imports agentgym.

Each output line is one record: ``{"kind": "module", "module": "json", "doc": ..., "functions": [...], "classes":
[...]}`` or ``{"kind": "function"|"class"|"method", "module": "json", "qualname": "JSONEncoder.encode", "signature":
"(self, o)", "doc": ...}``. A final ``{"kind": "done", ...}`` line carries the skipped modules.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import re
import signal
import sys
import time
import warnings

# Imported for their side effects (open a browser, print, start Tk) or too slow/large to be useful as documents.
SKIPPED_TOP_LEVEL = frozenset({
    "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "lib2to3", "ensurepip",
    "distutils", "pydoc_data", "msilib", "winreg", "winsound", "msvcrt", "nt", "_msi",
})
SKIPPED_SUBMODULE_PARTS = frozenset({"test", "tests", "idle_test", "__main__"})
SKIPPED_PACKAGES_CHILDREN = frozenset({"encodings"})  # ~120 codec modules with one-line docs
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class ModuleTimeout(Exception):
    """Raised by the alarm when importing one module takes longer than its budget."""


def _on_alarm(signum, frame):  # noqa: ARG001
    raise ModuleTimeout()


def module_names() -> list[str]:
    """Public standard-library modules, packages followed by their public submodules, sorted."""
    names = []
    for top in sorted(sys.stdlib_module_names):
        if top.startswith("_") or top in SKIPPED_TOP_LEVEL:
            continue
        names.append(top)
    return names


def own_doc(obj) -> str:
    """The object's own docstring, cleaned; never one inherited from a base class."""
    doc = getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def signature_text(obj) -> str | None:
    try:
        return _ADDRESS.sub("", str(inspect.signature(obj)))
    except (ValueError, TypeError, RuntimeError):
        return None


def is_defined_in(obj, module_name: str) -> bool:
    return getattr(obj, "__module__", None) == module_name


def describe_module(module, emit) -> None:
    name = module.__name__
    functions, classes = [], []
    for attr in sorted(vars(module)):
        if attr.startswith("_"):
            continue
        obj = vars(module)[attr]
        if not is_defined_in(obj, name) or getattr(obj, "__name__", None) != attr:
            continue  # aliases and re-exports are documented where they are defined
        if inspect.isclass(obj):
            classes.append(attr)
            emit({"kind": "class", "module": name, "qualname": attr, "signature": signature_text(obj),
                  "doc": own_doc(obj), "bases": [b.__name__ for b in obj.__bases__ if b is not object],
                  "methods": describe_methods(obj, name, emit)})
        elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
            functions.append(attr)
            emit({"kind": "function", "module": name, "qualname": attr, "signature": signature_text(obj),
                  "doc": own_doc(obj)})
    emit({"kind": "module", "module": name, "doc": own_doc(module), "functions": functions, "classes": classes,
          "is_package": hasattr(module, "__path__")})


def describe_methods(cls, module_name: str, emit) -> list[str]:
    """Emit the documented public methods a class defines itself; return all their names."""
    names = []
    for attr in sorted(vars(cls)):
        if attr.startswith("_"):
            continue
        raw = vars(cls)[attr]
        func = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
        if not (inspect.isfunction(func) or inspect.ismethoddescriptor(func) or inspect.isbuiltin(func)):
            continue
        names.append(attr)
        doc = own_doc(func)
        if doc:
            emit({"kind": "method", "module": module_name, "qualname": f"{cls.__name__}.{attr}",
                  "signature": signature_text(func), "doc": doc})
    return names


def submodule_names(package) -> list[str]:
    if package.__name__ in SKIPPED_PACKAGES_CHILDREN:
        return []
    found = []
    for info in pkgutil.iter_modules(getattr(package, "__path__", []), package.__name__ + "."):
        last = info.name.rpartition(".")[2]
        if last.startswith("_") or last in SKIPPED_SUBMODULE_PARTS:
            continue
        found.append(info.name)
    return sorted(found)


def walk(deadline: float, per_module_s: float, emit) -> list[str]:
    """Import and describe every module until `deadline` (time.monotonic); return the skipped names with reasons."""
    skipped = []
    queue = module_names()
    signal.signal(signal.SIGALRM, _on_alarm)
    while queue:
        name = queue.pop(0)
        if time.monotonic() > deadline:
            skipped.append(f"{name}: total time limit reached")
            continue
        signal.setitimer(signal.ITIMER_REAL, per_module_s)
        try:
            module = importlib.import_module(name)
            signal.setitimer(signal.ITIMER_REAL, 0)
        except ModuleTimeout:
            skipped.append(f"{name}: import took longer than {per_module_s:g} s")
            continue
        except BaseException as e:  # noqa: BLE001 - ImportError, SystemExit, platform-specific failures
            signal.setitimer(signal.ITIMER_REAL, 0)
            skipped.append(f"{name}: {type(e).__name__}")
            continue
        try:
            signal.setitimer(signal.ITIMER_REAL, per_module_s)
            describe_module(module, emit)
            queue[0:0] = submodule_names(module)
        except ModuleTimeout:
            skipped.append(f"{name}: describing took longer than {per_module_s:g} s")
        except Exception as e:  # noqa: BLE001
            skipped.append(f"{name}: {type(e).__name__} while describing")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return skipped


def main() -> None:
    total_s = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    per_module_s = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # anything a module prints goes to stderr, never into our JSON stream
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")

    def emit(record: dict) -> None:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")

    skipped = walk(time.monotonic() + total_s, per_module_s, emit)
    emit({"kind": "done", "skipped": skipped, "python": sys.version.split()[0]})
    out.flush()


if __name__ == "__main__":
    main()
