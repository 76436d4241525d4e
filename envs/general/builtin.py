"""The built-in `general` environments and tasks: a bundle shipped as package data, materialized once into a cache.

`data/builtin.json.gz` was written by the synthesis pipeline (``scripts/build_general_bundle.py``, i.e.
``agentgym.synth.general.bundle``: 200 procedural tasks over about 60 environments, seed 0), so ``GeneralEnv()`` works
offline with no synthesis step, and a held-out split of it still leaves a large disjoint training pool. It holds each
environment as its manifest, its tools source and its DB as an SQL dump, plus the tasks. The first use rebuilds the
folders under
``$XDG_CACHE_HOME/agentgym/general/<bundle hash>/`` (written to a temporary directory, then renamed into place).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from agentgym.api import Task

BUNDLE_PATH = Path(__file__).with_name("data") / "builtin.json.gz"
BUNDLE_FORMAT = "agentgym-general-bundle/1"


def cache_dir() -> Path:
    """Where materialized bundles live (`$XDG_CACHE_HOME/agentgym/general`, default `~/.cache/...`)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "agentgym" / "general"


@functools.cache
def _bundle() -> tuple[dict, str]:
    raw = BUNDLE_PATH.read_bytes()
    bundle = json.loads(gzip.decompress(raw))
    if bundle.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"{BUNDLE_PATH}: format must be {BUNDLE_FORMAT!r}, got {bundle.get('format')!r}")
    return bundle, hashlib.sha256(raw).hexdigest()[:16]


def materialize(bundle: dict, target: Path) -> Path:
    """Write every environment folder of `bundle` under `target/envs/`; atomic (all or nothing)."""
    if (target / "envs").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        for env in bundle["environments"]:
            folder = tmp / "envs" / env["env_id"]
            folder.mkdir(parents=True)
            (folder / "manifest.json").write_text(json.dumps(env["manifest"], indent=1, sort_keys=True))
            (folder / "tools.py").write_text(env["tools_source"], encoding="utf-8")
            db = sqlite3.connect(folder / "db.sqlite")
            db.executescript("\n".join(env["db_sql"]))
            db.close()
        try:
            os.rename(tmp, target)
        except OSError:  # another process won the race: its copy is identical
            if not (target / "envs").is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@functools.cache
def builtin_root() -> Path:
    """The directory that the built-in tasks' relative ``env_dir`` paths point into (materialized on first use)."""
    bundle, digest = _bundle()
    return materialize(bundle, cache_dir() / digest)


def builtin_tasks() -> list[Task]:
    """The built-in tasks, in bundle order."""
    bundle, _ = _bundle()
    return [Task.model_validate(t) for t in bundle["tasks"]]
