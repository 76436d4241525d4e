"""The run directory: one folder per stage, a `stage.json` marker written atomically last, skip and restart rules.

A stage is done iff its `stage.json` exists; it is written (temporary file + rename) only after every other output
of the stage, so a crash leaves the stage unfinished and the next run redoes (or resumes) it. `--from-stage NAME`
deletes NAME and every later stage before running.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

STAGES = ("base", "cold_start", "rpt", "specialists", "distill", "mixed", "report")
"""Every stage in run order (`cold_start` and `rpt` run only when the config has that section)."""
MARKER = "stage.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def is_done(directory: Path) -> bool:
    return (Path(directory) / MARKER).is_file()


def mark_done(directory: Path, *, seconds: float, **fields: Any) -> None:
    """The stage's last write: its `stage.json` with the wall time and anything the stage wants to record."""
    write_json_atomic(Path(directory) / MARKER, {"done": True, "seconds": round(seconds, 1),
                                                 "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                                 **fields})


def check_stage(name: str) -> str:
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    return name


def reset_from(run_dir: Path, stage: str) -> list[str]:
    """Delete `stage` and every later stage's folder; returns the names deleted."""
    deleted = []
    for name in STAGES[STAGES.index(check_stage(stage)):]:
        if (Path(run_dir) / name).exists():
            shutil.rmtree(Path(run_dir) / name)
            deleted.append(name)
    return deleted


def stage_status(run_dir: Path) -> list[dict[str, Any]]:
    """One row per stage: name, state ("done", "partial", "pending") and the marker's fields."""
    rows = []
    for name in STAGES:
        directory = Path(run_dir) / name
        if is_done(directory):
            rows.append({"stage": name, "state": "done", **read_json(directory / MARKER)})
        else:
            rows.append({"stage": name, "state": "partial" if directory.exists() else "pending"})
    return rows
