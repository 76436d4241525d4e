"""Load SWE-bench-format instances as code_repair tasks when their repositories are available locally.

An instance has the public fields instance_id, repo, base_commit, patch, test_patch, problem_statement, FAIL_TO_PASS
and PASS_TO_PASS (the last two are JSON-encoded lists in the published files). The caller maps each `repo`
("owner/name") to a local checkout already at `base_commit`; nothing is cloned or fetched. `patch` becomes the gold
patch and `test_patch` the evaluation patch, applied only when the agent submits (the agent never sees those tests).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from agentgym.api import Task
from agentgym.envs.code_repair.snapshot import tree_sha256

REQUIRED = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement", "FAIL_TO_PASS",
            "PASS_TO_PASS")  # fmt: skip


def _ids(value: Any, field: str, instance_id: str) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"instance {instance_id!r}: {field} must be a list of test ids (or its JSON text)")
    return value


def read_instances(path: str | Path) -> list[dict[str, Any]]:
    """Instances from a JSON array file or a JSONL file."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def swebench_task(instance: Mapping[str, Any], repo_dir: str | Path, *, venv: str | None = None,
                  pythonpath: list[str] | None = None, test_args: list[str] | None = None) -> Task:  # fmt: skip
    """One instance as a Task over the checkout `repo_dir`.

    Raises:
        ValueError: a field is missing or malformed, or `repo_dir` is not a folder.
    """
    missing = [f for f in REQUIRED if f not in instance]
    if missing:
        raise ValueError(f"not a SWE-bench instance: missing fields {missing}")
    iid = str(instance["instance_id"])
    folder = Path(repo_dir)
    if not folder.is_dir():
        raise ValueError(f"instance {iid!r}: repository folder {str(folder)!r} does not exist")
    f2p = _ids(instance["FAIL_TO_PASS"], "FAIL_TO_PASS", iid)
    if not f2p:
        raise ValueError(f"instance {iid!r}: FAIL_TO_PASS is empty")
    data: dict[str, Any] = {
        "repo": str(folder.resolve()), "repo_sha256": tree_sha256(folder), "gold_patch": instance["patch"],
        "eval_patch": instance["test_patch"], "fail_to_pass": f2p,
        "pass_to_pass": _ids(instance["PASS_TO_PASS"], "PASS_TO_PASS", iid), "venv": venv,
        "pythonpath": list(pythonpath or []), "test_args": list(test_args or []),
    }  # fmt: skip
    return Task(id=iid, env="code_repair", prompt=str(instance["problem_statement"]), data=data,
                meta={"generator": "swebench", "repo": instance["repo"], "base_commit": instance["base_commit"]})


def load_swebench(instances: Iterable[Mapping[str, Any]] | str | Path,
                  repos: Mapping[str, str | Path] | Callable[[Mapping[str, Any]], str | Path | None],
                  **kwargs: Any) -> list[Task]:  # fmt: skip
    """Tasks for the instances whose repository is available (`repos`: "owner/name" -> checkout, or a function of the
    instance returning a checkout or None); the others are skipped."""
    if isinstance(instances, (str, Path)):
        instances = read_instances(instances)
    out = []
    for inst in instances:
        where = repos(inst) if callable(repos) else repos.get(str(inst.get("repo")))
        if where is not None:
            out.append(swebench_task(inst, where, **kwargs))
    return out
