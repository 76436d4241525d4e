"""Builds the `general` env's built-in bundle (`envs/general/data/builtin.json.gz`) with the procedural pipeline.

Run ``python scripts/build_general_bundle.py`` (or ``python -m agentgym.synth.general.bundle PATH``) to regenerate
it. The bundle format is the one the env's `builtin.py` reads: each environment as manifest + tools source + SQL dump
of its DB, plus the tasks. Compact JSON, gzipped with a fixed mtime, so a rebuild gives the same bytes.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from agentgym.synth.general.pipeline import Pipeline, PipelineConfig
from agentgym.synth.general.procedural import ProceduralGenerator

BUNDLE_FORMAT = "agentgym-general-bundle/1"
BUILTIN_NUM_TASKS = 200
"""Tasks in the shipped bundle: enough that a held-out split and the training pool never share a task (about 60
environments over the five procedural categories, levels 0-3)."""


def build_bundle(*, num_tasks: int = BUILTIN_NUM_TASKS, seed: int = 0) -> dict[str, Any]:
    """Synthesize `num_tasks` tasks over every procedural category and pack them into one JSON-able bundle."""
    generator = ProceduralGenerator()
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline(generator, tmp, PipelineConfig(categories=tuple(generator.categories()),
                                                           num_tasks=num_tasks, seed=seed))  # fmt: skip
        asyncio.run(pipeline.run())
        environments = []
        for record in pipeline.envs.records():
            folder = Path(tmp) / record["path"]
            db = sqlite3.connect(folder / "db.sqlite")
            dump = list(db.iterdump())
            db.close()
            environments.append({"env_id": record["env_id"],
                                 "manifest": json.loads((folder / "manifest.json").read_text()),
                                 "tools_source": (folder / "tools.py").read_text(), "db_sql": dump})
        return {"format": BUNDLE_FORMAT, "seed": seed, "environments": environments,
                "tasks": pipeline.tasks.records()}


def bundle_bytes(bundle: dict[str, Any]) -> bytes:
    """The bundle as gzipped compact JSON with a fixed header (same bundle, same bytes)."""
    raw = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=9, mtime=0)


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else Path("envs/general/data/builtin.json.gz")
    out.parent.mkdir(parents=True, exist_ok=True)
    bundle = build_bundle()
    out.write_bytes(bundle_bytes(bundle))
    print(f"wrote {out}: {len(bundle['tasks'])} tasks over {len(bundle['environments'])} environments")


if __name__ == "__main__":
    main(sys.argv[1:])
