"""Builds the `general` env's built-in bundle (`envs/general/data/builtin.json`) with the procedural pipeline.

Run ``python -m agentgym.synth.general.bundle PATH`` to regenerate it. The bundle format is the one the env's
`builtin.py` reads: each environment as manifest + tools source + SQL dump of its DB, plus the tasks.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

from agentgym.synth.general.pipeline import Pipeline, PipelineConfig
from agentgym.synth.general.procedural import ProceduralGenerator

BUNDLE_FORMAT = "agentgym-general-bundle/1"


def build_bundle(*, num_tasks: int = 20, seed: int = 0) -> dict[str, Any]:
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


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else Path("envs/general/data/builtin.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(build_bundle(), sort_keys=True, indent=0) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
