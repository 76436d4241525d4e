"""The `data` of a code_repair `Task`: the repository snapshot, the patches, the tests, and how to run them.

Everything is plain JSON so that synthesis pipelines write tasks without importing this env. Example::

    Task(id="isodate-3f2a", env="code_repair", prompt="<issue text>", data={
        "repo": "$AGENTGYM_CACHE/code/projects/isodate-0.7.2", "repo_sha256": "9c1e...",
        "bug_patch": "--- a/src/isodate/isodates.py ...", "gold_patch": "--- a/src/isodate/isodates.py ...",
        "fail_to_pass": ["tests/test_date.py::test_parse[1]"], "pass_to_pass": ["tests/test_time.py::test_x"],
        "venv": "$AGENTGYM_CACHE/code/venvs/isodate-0.7.2-1a2b", "pythonpath": ["src"],
    })
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from agentgym.diskcache import CACHE_ENV, cache_root

HIDDEN_FIELDS = ("bug_patch", "gold_patch", "eval_patch", "fail_to_pass", "pass_to_pass")
"""`data` fields the agent never sees: the env shows only the prompt and the repository."""


def expand_path(path: str) -> str:
    """A stored path with its ``$AGENTGYM_CACHE`` prefix resolved, so task files move between machines."""
    prefix = "$" + CACHE_ENV
    if path == prefix or path.startswith(prefix + "/"):
        return str(cache_root()) + path[len(prefix) :]
    return os.path.expanduser(path)


class RepoTaskData(BaseModel):
    """The validated `Task.data` of a code_repair task."""

    model_config = ConfigDict(extra="allow")

    repo: str
    """The snapshot: a directory, or a `.tar.gz`/`.tgz`/`.tar` archive of one (its top folder is stripped if single)."""
    repo_sha256: str = ""
    """Content hash of the snapshot (`snapshot.tree_sha256`); checked at reset when the env's `verify_hash` is on."""
    bug_patch: str = ""
    """Unified diff applied to the snapshot at reset: how synthesized tasks store their bug without a second copy."""
    gold_patch: str
    """Unified diff that fixes the issue, relative to snapshot + bug_patch. Hidden; used by `reference_action`."""
    eval_patch: str = ""
    """Applied just before the final evaluation only (SWE-bench `test_patch`: the tests the agent must not see)."""
    fail_to_pass: list[str] = Field(min_length=1)
    """pytest node ids that fail before the fix and must pass after it."""
    pass_to_pass: list[str] = Field(default_factory=list)
    """pytest node ids that pass before the fix and must still pass after it."""
    venv: str | None = None
    """A prepared virtualenv with pytest and the test dependencies, bind-mounted read-only; None: the env's Python."""
    pythonpath: list[str] = Field(default_factory=list)
    """Repository-relative folders put on PYTHONPATH (e.g. ["src"]): the project is imported from the working copy."""
    test_args: list[str] = Field(default_factory=list)
    """Extra pytest arguments, e.g. ["-o", "addopts=", "--deselect", "tests/test_x.py::test_needs_network"]."""
    test_env: dict[str, str] = Field(
        default_factory=lambda: {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONHASHSEED": "0"}
    )
    """Environment variables of every test run. Plugin autoload off keeps runs identical across machines; a fixed
    hash seed keeps parametrize ids built from set order the same from run to run."""
    test_timeout_s: float = Field(default=300.0, gt=0)
    """Wall-clock limit of one test run."""
    image: str | None = None
    """Docker image with the test dependencies, used when the env runs on the docker backend."""


def parse_task_data(data: dict[str, Any]) -> RepoTaskData:
    """Validate `Task.data`; raises `ValueError` naming the bad field."""
    from pydantic import ValidationError

    try:
        return RepoTaskData.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ValueError(f"not a code_repair task: {problems}") from None


def files_of_tests(data: RepoTaskData) -> list[str]:
    """The test files that hold the task's F2P and P2P tests, in first-seen order."""
    out: list[str] = []
    for nid in [*data.fail_to_pass, *data.pass_to_pass]:
        path = nid.split("::", 1)[0]
        if path not in out:
            out.append(path)
    return out
