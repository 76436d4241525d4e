"""Writes checked environments and tasks in the `general` env's on-disk format (documented in
`agentgym.envs.general.folder`; duplicated here on purpose, since synth never imports envs)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from agentgym.synth.general.drafts import EnvDraft, TaskDraft
from agentgym.synth.schemas import (
    Difficulty,
    Environment,
    Provenance,
    QualityCheck,
    TaskMeta,
)

from agentgym.api import Task

FORMAT = "agentgym-general-env/1"


def env_hashes(db_sha256: str, tools_source: str) -> tuple[str, str]:
    """(tools hash, env hash) as the format defines them."""
    tools_sha = hashlib.sha256(tools_source.encode()).hexdigest()
    return tools_sha, hashlib.sha256(f"db:{db_sha256}\ntools:{tools_sha}".encode()).hexdigest()


def manifest(env_id: str, env: EnvDraft, db_sha256: str) -> dict[str, Any]:
    tools_sha, env_sha = env_hashes(db_sha256, env.tools_source)
    return {"format": FORMAT, "env_id": env_id, "category": env.category,
            "tools": [t.model_dump() for t in env.tools],
            "hashes": {"db": db_sha256, "tools": tools_sha}, "env_sha256": env_sha}  # fmt: skip


def write_env_folder(out: Path, env_id: str, env: EnvDraft, db_bytes: bytes, db_sha256: str) -> Path:
    """Write ``out/envs/<env_id>/`` atomically (temporary folder, then rename); an intact existing copy is kept."""
    target = out / "envs" / env_id
    data = manifest(env_id, env, db_sha256)
    if (target / "manifest.json").is_file():
        try:
            if json.loads((target / "manifest.json").read_text()) == data and (target / "db.sqlite").is_file():
                return target
        except json.JSONDecodeError:
            pass
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{env_id}-", dir=target.parent))
    try:
        (tmp / "db.sqlite").write_bytes(db_bytes)
        (tmp / "tools.py").write_text(env.tools_source, encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(data, indent=1, sort_keys=True))
        for f in tmp.iterdir():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def environment_record(env_id: str, env: EnvDraft, db_sha256: str, provenance: Provenance) -> Environment:
    tools_sha, env_sha = env_hashes(db_sha256, env.tools_source)
    return Environment(env_id=env_id, category=env.category, path=f"envs/{env_id}", tools=env.tools,
                       db_sha256=db_sha256, tools_sha256=tools_sha, env_sha256=env_sha, provenance=provenance)


def task_record(*, task_id: str, category: str, env_id: str, env_sha256: str, task: TaskDraft, answer: Any,
                calls: list[dict[str, Any]], checks: list[QualityCheck], parent: str | None, dedup_key: str,
                provenance: Provenance) -> Task:  # fmt: skip
    """The stored task: an `agentgym.api.Task` for the `general` env with `TaskMeta` in its meta."""
    meta = TaskMeta(category=category, env_id=env_id, env_sha256=env_sha256,
                    difficulty=Difficulty(level=task.level, parent_task_id=parent, knobs=task.knobs,
                                          num_ref_tool_calls=len(calls)),
                    quality=checks, dedup_key=dedup_key, provenance=provenance)  # fmt: skip
    data = {"env_dir": f"envs/{env_id}", "env_sha256": env_sha256, "answer_schema": task.answer_schema,
            "verifier": task.verifier, "verifier_kind": task.verifier_kind, "solution": task.solution,
            "reference": {"calls": calls, "answer": answer}}  # fmt: skip
    return Task(id=task_id, env="general", prompt=task.prompt, data=data, meta=meta.model_dump(mode="json"))
