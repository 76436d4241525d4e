"""`code_repair`: fix a bug in a real Python repository with shell and file tools; graded by its own test suite.

Each episode gets a fresh sandbox holding a copy of the task's repository snapshot with the bug applied. A prepared
virtualenv (pytest + test dependencies) is bind-mounted read-only and shared between episodes of the same repository.
Reward 1 iff every FAIL_TO_PASS test passes and every PASS_TO_PASS test still passes, read from pytest's JUnit XML.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from agentgym.api import Action, StepResult, Task, Verdict
from agentgym.envs.code_repair.builtin import check_task_set, sample_task_set
from agentgym.envs.code_repair.edits import replace_exact
from agentgym.envs.code_repair.gold import gold_action, gold_script
from agentgym.envs.code_repair.image import REPO_IN_IMAGE, ensure_image
from agentgym.envs.code_repair.patch import PatchError
from agentgym.envs.code_repair.requirements import check_pytest
from agentgym.envs.code_repair.snapshot import materialize, tree_sha256
from agentgym.envs.code_repair.taskdata import RepoTaskData, expand_path, files_of_tests, parse_task_data
from agentgym.envs.code_repair.testrun import TestRun, run_tests
from agentgym.envs.code_repair.workspace import (
    apply_patch_in_box,
    populate,
    restore_protected,
    starting_files,
    write_files,
)
from agentgym.sandbox import (
    ExecResult,
    SandboxConfig,
    SandboxError,
    SandboxLimits,
    SandboxPathError,
    make_sandbox,
    shared_sandbox_pool,
)
from agentgym.sandbox.docker import load_docker
from agentgym.sandbox.docker_image import BASE_IMAGE
from agentgym.toolenv import ToolEnv, ToolError, tool
from agentgym.tools import ToolScript

BACKENDS = ("local", "docker")
MAX_READ_LINES = 400
MAX_LISTED_ENTRIES = 300
MAX_ARGUMENT_BYTES = 100_000  # Linux refuses any one command-line string over 128 KiB (MAX_ARG_STRLEN)


class CodeRepairEnv(ToolEnv):
    """Repair a repository so that its failing tests pass without breaking the others.

    Args:
        max_turns: steps before truncation.
        backend: "local" (`LocalSandbox`) or "docker" (`DockerSandbox` in one image per repository, built from the
            task's prepared venv and snapshot on first use and reused after; or the task's own `image` field).
        bash_timeout_s: wall-clock limit of one `bash` call.
        max_output_chars: longest tool output shown to the agent (head and tail kept).
        verify_hash: check each snapshot against the task's `repo_sha256` at reset.
        python_executable: interpreter for tasks without a prepared venv; it must import pytest
            (``pip install 'agentgym-rl[code]'``), checked at the first reset of such a task.
        docker_client: a docker SDK client for the docker backend (tests pass a fake one).
        base_image: the image the per-repository images build on (offline: `agentgym docker build-base`).
        pool_size: local sandboxes kept created ahead of time in a process-wide `SandboxPool` per sandbox config
            (uid leased, working directory made), so a reset takes a ready one; 0 disables it.
        root: where relative ``data["repo"]``/``data["venv"]`` paths point (a task file's folder that ships its
            snapshots); None: relative paths are taken from the working directory.
        tasks: the set `sample_tasks` draws from: "builtin" (default), 16 real bugs in pinned PyPI projects shipped
            with the package (`builtin.py`); "fixture", the eight bugs of the bundled toy library `minilib`.
    """

    name = "code_repair"
    system_prompt = (
        "You are a software engineer fixing an issue in a Python repository. The repository is your working "
        "directory. Use `list_dir`, `read_file` and `bash` to explore, `edit_file` to change source files, and "
        "`run_tests` to run pytest (node ids like tests/test_x.py::test_y, or nothing for the whole suite). "
        "Fix the source code, not the tests. Call `submit` when the issue is fixed; the hidden grading tests then run."
    )

    def __init__(self, *, max_turns: int = 50, backend: str = "local", bash_timeout_s: float = 60.0,
                 max_output_chars: int = 8000, verify_hash: bool = False, python_executable: str | None = None,
                 docker_client: Any = None, tool_format: str = "auto", pool_size: int = 0, base_image: str = BASE_IMAGE,
                 root: str | Path | None = None, tasks: str = "builtin") -> None:  # fmt: skip
        super().__init__(max_turns=max_turns, tool_format=tool_format)
        self.tasks = check_task_set(tasks)
        self.root = Path(root) if root is not None else None
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not isinstance(bash_timeout_s, (int, float)) or bash_timeout_s <= 0:
            raise ValueError(f"bash_timeout_s must be a positive number, got {bash_timeout_s!r}")
        if not isinstance(max_output_chars, int) or max_output_chars < 200:
            raise ValueError(f"max_output_chars must be an int >= 200, got {max_output_chars!r}")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 0:
            raise ValueError(f"pool_size must be an integer >= 0, got {pool_size!r}")
        self.pool_size = pool_size
        self.backend = backend
        self.bash_timeout_s = float(bash_timeout_s)
        self.max_output_chars = max_output_chars
        self.verify_hash = verify_hash
        self.python_executable = python_executable or sys.executable
        self.docker_client = docker_client
        self.base_image = base_image
        self.box: Any = None
        self.data: RepoTaskData | None = None
        self.snapshot: Path | None = None
        self.start_files: dict[str, str | None] = {}
        self.last_grade: dict[str, Any] = {}
        self._hashes: dict[tuple[str, float], str] = {}
        self._pytest_ok: set[str] = set()
        self.images: dict[tuple[str, str], str] = {}
        """Per-repository image tags of the docker backend, by (snapshot hash, venv)."""

    # --- episode set-up -----------------------------------------------------------------------------------------
    async def on_reset(self, task: Task, seed: int | None) -> None:
        await self._drop_box()
        data = parse_task_data(self._rooted(task).data)
        if not data.venv and self.backend == "local":  # tests run with our interpreter: fail now if it lacks pytest
            await asyncio.to_thread(check_pytest, self.python_executable, known_good=self._pytest_ok)
        snapshot = await asyncio.to_thread(materialize, expand_path(data.repo))
        if self.verify_hash and data.repo_sha256:
            actual = await asyncio.to_thread(self._hash, snapshot)
            if actual != data.repo_sha256:
                raise ValueError(f"task {task.id!r}: snapshot {snapshot} has hash {actual}, expected {data.repo_sha256}")
        self.data, self.snapshot, self.last_grade = data, snapshot, {}
        self.start_files = await asyncio.to_thread(starting_files, snapshot, data)
        self.box = await asyncio.to_thread(self._make_box, data, snapshot)
        if self.backend == "docker" and not data.image:  # the per-repo image holds the snapshot at /repo
            copied = await self.box.arun(["cp", "-R", f"{REPO_IN_IMAGE}/.", "."], timeout_s=120)
            if not copied.ok:
                raise RuntimeError(f"copying {REPO_IN_IMAGE} in the container failed: {copied.summary()}: "
                                   f"{copied.stderr.strip()}")  # fmt: skip
        else:
            await asyncio.to_thread(populate, self.box, snapshot)
        await write_files(self.box, self.start_files)

    def _rooted(self, task: Task) -> Task:
        """`task` with its relative ``repo``/``venv`` paths resolved against `root` (unchanged without a root)."""
        if self.root is None:
            return task
        fix = {k: str(self.root / v) for k in ("repo", "venv")
               if isinstance(v := task.data.get(k), str) and v and not v.startswith(("$", "~", "/"))}
        return task.model_copy(update={"data": {**task.data, **fix}}) if fix else task

    def _hash(self, snapshot: Path) -> str:
        key = (str(snapshot), snapshot.stat().st_mtime)
        if key not in self._hashes:
            self._hashes[key] = tree_sha256(snapshot)
        return self._hashes[key]

    def _make_box(self, data: RepoTaskData, snapshot: Path) -> Any:
        if self.backend == "docker":
            limits = SandboxLimits(timeout_s=max(self.bash_timeout_s, data.test_timeout_s), max_processes=128)
            return make_sandbox("docker", SandboxConfig(limits=limits), image=self._image(data, snapshot),
                                client=self._docker())  # fmt: skip
        venv = expand_path(data.venv) if data.venv else None
        python = f"{venv}/bin/python" if venv else self.python_executable
        limits = SandboxLimits(timeout_s=max(self.bash_timeout_s, data.test_timeout_s), max_processes=128)
        config = SandboxConfig(limits=limits, python_executable=python, ro_binds=(venv,) if venv else ())
        if self.pool_size:
            return shared_sandbox_pool(config, size=self.pool_size).acquire()
        return make_sandbox("local", config)

    def _docker(self) -> Any:
        if self.docker_client is None:
            self.docker_client = load_docker().from_env()
        return self.docker_client

    def _image(self, data: RepoTaskData, snapshot: Path) -> str:
        """The task's `image`, else the repository's own image (built once; see `image.ensure_image`)."""
        if data.image:
            return data.image
        repo_sha256 = data.repo_sha256 or self._hash(snapshot)
        key = (repo_sha256, data.venv or "")
        if key not in self.images:
            venv = expand_path(data.venv) if data.venv else None
            self.images[key], _ = ensure_image(self._docker(), snapshot, venv=venv, repo_sha256=repo_sha256,
                                               base_image=self.base_image)  # fmt: skip
        return self.images[key]

    def _python(self) -> str:
        assert self.data is not None
        if self.backend == "docker":
            return "python"  # the image's interpreter, with the test env installed into it
        return f"{expand_path(self.data.venv)}/bin/python" if self.data.venv else self.python_executable

    def _run_data(self) -> RepoTaskData:
        assert self.data is not None
        if self.backend == "docker":  # no host venv in the container: the image is the test env
            return self.data.model_copy(update={"venv": None})
        if self.data.venv:  # the venv path the sandbox sees is the expanded one
            return self.data.model_copy(update={"venv": expand_path(self.data.venv)})
        return self.data

    # --- tools --------------------------------------------------------------------------------------------------
    @tool("Run a shell command in the repository (no network). Output is truncated to its head and tail.",
          cmd={"type": "string", "description": "e.g. grep -rn 'def parse' src/"})
    async def bash(self, cmd: str) -> str:
        _check_argv("cmd", cmd)
        data = self._run_data()
        env = {"PATH": f"{data.venv}/bin:/usr/local/bin:/usr/bin:/bin"} if data.venv else {}  # None on docker
        if data.pythonpath:
            env["PYTHONPATH"] = ":".join(f"{self.box.workdir}/{p}" for p in data.pythonpath)
        result = _infra_checked(await self.box.arun(cmd, timeout_s=self.bash_timeout_s, env=env))
        parts = [result.summary(timing=False)]
        if result.stdout:
            parts.append(result.stdout)
        if result.stderr:
            parts.append("[stderr]\n" + result.stderr)
        if result.timed_out:  # the agent's own command ran too long: its mistake, labelled model_error
            raise ToolError(self._clip("\n".join(parts)))
        return self._clip("\n".join(parts))

    @tool("Show lines start..end (1-based, inclusive) of a file, numbered.",
          path={"type": "string"}, start={"type": "integer", "minimum": 1}, end={"type": "integer", "minimum": 1})
    async def read_file(self, path: str, start: int = 1, end: int | None = None) -> str:
        text = self._read(path)
        lines = text.splitlines()
        if start > max(len(lines), 1):
            raise ToolError(f"{path} has {len(lines)} lines; start={start} is past the end")
        last = min(len(lines), end if end is not None else start + MAX_READ_LINES - 1, start + MAX_READ_LINES - 1)
        if end is not None and end < start:
            raise ToolError(f"end ({end}) is before start ({start})")
        width = len(str(last))
        body = "\n".join(f"{i:>{width}} | {lines[i - 1]}" for i in range(start, last + 1))
        more = f"\n[lines {last + 1}-{len(lines)} not shown; call read_file with start={last + 1}]" if last < len(lines) else ""
        return self._clip(f"{path} (lines {start}-{last} of {len(lines)})\n{body}{more}")

    @tool("Replace the exact text `old` (which must occur exactly once) with `new` in a file. "
          "With an empty `old` and a file that does not exist yet, creates the file with `new`.",
          path={"type": "string"}, old={"type": "string"}, new={"type": "string"})
    async def edit_file(self, path: str, old: str, new: str) -> str:
        current = self._read(path, missing_ok=old == "")
        if current is None:
            self._write(path, new)
            return f"created {path} ({new.count(chr(10)) + (0 if new.endswith(chr(10)) else 1)} lines)"
        updated, line = replace_exact(current, path, old, new)
        self._write(path, updated)
        return f"edited {path} at line {line} (-{old.count(chr(10)) + 1} +{new.count(chr(10)) + 1} lines)"

    @tool("List a directory of the repository (folders end with '/').", path={"type": "string"})
    async def list_dir(self, path: str = ".") -> str:
        _check_argv("path", path)
        result = await self.box.arun(["ls", "-1Ap", "--", path], timeout_s=30)
        if not result.ok:
            raise ToolError(f"cannot list {path!r}: {result.stderr.strip() or result.summary(timing=False)}")
        entries = [e for e in result.stdout.splitlines() if e and not e.startswith(".agentgym-")]
        shown = entries[:MAX_LISTED_ENTRIES]
        extra = f"\n... and {len(entries) - len(shown)} more" if len(entries) > len(shown) else ""
        return f"{path}: {len(entries)} entries\n" + "\n".join(shown) + extra

    @tool("Run tests with pytest and report pass/fail counts and failure messages.",
          ids={"type": "array", "items": {"type": "string"}, "description": "node ids or paths; empty: whole suite"})
    async def run_tests(self, ids: list[str] | None = None) -> str:
        if ids is not None and not all(isinstance(i, str) and i.strip() for i in ids):
            raise ToolError("ids must be a list of non-empty strings (pytest node ids or paths)")
        _check_argv("ids", "".join(ids or []))
        run = await run_tests(self.box, self._run_data(), [i.strip() for i in ids or []], python=self._python(),
                              is_file=self._is_snapshot_file)  # fmt: skip
        if run.result is not None:
            _infra_checked(run.result)
            if run.result.timed_out:  # the agent's code (or a test it broke) hangs: labelled model_error
                raise ToolError(self._clip(run.summary()))
        return self._clip(run.summary())

    @tool("Submit your fix; this ends the episode and runs the grading tests.")
    async def submit(self) -> Verdict:
        assert self.data is not None and self.snapshot is not None
        grading = files_of_tests(self.data)
        restored = await restore_protected(self.box, self.snapshot, self.data, self.start_files, grading)
        try:
            await apply_patch_in_box(self.box, self.data.eval_patch)
        except PatchError as e:
            self.last_grade = {"restored": restored, "error": f"evaluation patch did not apply: {e}"}
            return Verdict(reward=0.0, passed=False, reasons=[self.last_grade["error"]])
        run = await run_tests(self.box, self._run_data(), grading, python=self._python(),
                              is_file=self._is_snapshot_file)  # fmt: skip
        if run.result is not None:
            _infra_checked(run.result)  # a grading run the sandbox could not start says nothing about the fix
        return self._grade(run, restored)

    # --- grading ------------------------------------------------------------------------------------------------
    def _grade(self, run: TestRun, restored: list[str]) -> Verdict:
        assert self.data is not None
        f2p_failed = [t for t in self.data.fail_to_pass if not run.passed(t)]
        # A PASS_TO_PASS id that is merely absent counts only when collection broke or the run did not finish:
        # some suites build parametrize ids from set order, so an id can drift between otherwise identical runs.
        broken = run.problem is not None or any("::" not in o.node_id for o in run.outcomes.values())
        p2p_failed = [t for t in self.data.pass_to_pass
                      if (t in run.outcomes or broken) and not run.passed(t)]  # fmt: skip
        num_missing = sum(1 for t in self.data.pass_to_pass if t not in run.outcomes)
        num_f2p, num_p2p = len(self.data.fail_to_pass), len(self.data.pass_to_pass)
        passed = not f2p_failed and not p2p_failed
        reasons = [
            f"FAIL_TO_PASS: {num_f2p - len(f2p_failed)}/{num_f2p} pass",
            f"PASS_TO_PASS: {num_p2p - len(p2p_failed)}/{num_p2p} pass",
        ]
        for label, failed in (("FAIL_TO_PASS", f2p_failed), ("PASS_TO_PASS", p2p_failed)):
            for t in failed[:5]:
                outcome = run.outcomes.get(t)
                reasons.append(f"{label} {t}: {outcome.outcome if outcome else 'not run'}")
        if run.problem:
            reasons.append(f"test run: {run.problem}")
        if restored:
            reasons.append(f"reset before grading: {', '.join(restored[:10])}")
        self.last_grade = {
            "fail_to_pass": {t: ("passed" if run.passed(t) else "failed") for t in self.data.fail_to_pass},
            "pass_to_pass": {t: ("passed" if run.passed(t) else "failed") for t in self.data.pass_to_pass},
            "fail_to_pass_failed": f2p_failed,
            "pass_to_pass_failed": p2p_failed,
            "restored": restored,
            "problem": run.problem,
            "num_pass_to_pass_missing": num_missing,
        }
        components = {
            "fail_to_pass": (num_f2p - len(f2p_failed)) / num_f2p,
            "pass_to_pass": (num_p2p - len(p2p_failed)) / num_p2p if num_p2p else 1.0,
        }
        return Verdict(reward=1.0 if passed else 0.0, passed=passed, reasons=reasons, components=components)

    async def step(self, action: Action) -> StepResult:
        result = await super().step(action)
        if result.verdict is not None and self.last_grade:
            result.info["grading"] = self.last_grade
        return result

    # --- helpers ------------------------------------------------------------------------------------------------
    def _is_snapshot_file(self, rel: str) -> bool:
        return self.snapshot is not None and (self.snapshot / rel).is_file()

    def _read(self, path: str, *, missing_ok: bool = False) -> Any:
        try:
            raw = self.box.read_file(path)
        except SandboxPathError as e:
            raise ToolError(str(e)) from None
        except FileNotFoundError:
            if missing_ok:
                return None
            raise ToolError(f"no such file: {path!r} (paths are relative to the repository root)") from None
        except IsADirectoryError:
            raise ToolError(f"{path!r} is a directory; use list_dir") from None
        except OSError as e:
            raise ToolError(f"cannot read {path!r}: {e.strerror or e}") from None
        return raw.decode("utf-8", errors="replace")

    def _write(self, path: str, text: str) -> None:
        try:
            self.box.write_file(path, text)
        except SandboxPathError as e:
            raise ToolError(str(e)) from None
        except OSError as e:
            raise ToolError(f"cannot write {path!r}: {e.strerror or e}") from None

    def _clip(self, text: str) -> str:
        limit = self.max_output_chars
        if len(text) <= limit:
            return text
        half = limit // 2
        return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"

    async def _drop_box(self) -> None:
        if self.box is not None:
            box, self.box = self.box, None
            await asyncio.to_thread(box.close)

    async def aclose(self) -> None:
        await self._drop_box()

    # --- optional hooks -----------------------------------------------------------------------------------------
    def reference_action(self, task: Task) -> Action:
        """Apply the gold patch through `edit_file` calls (plus `bash rm` for deleted files), then submit."""
        return gold_action(self._rooted(task))

    def reference_policy(self, task: Task) -> ToolScript:
        """The gold edits one turn each, then `run_tests` and `submit` (`gold.gold_script`)."""
        return gold_script(self._rooted(task))

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        """`n` tasks of the `tasks` set in a seeded order (offline; the env's Python with pytest runs their tests)."""
        return sample_task_set(self.tasks, n, seed=seed)


def _check_argv(what: str, text: str) -> None:
    """Raise `ToolError` when the agent's `text` cannot go on a command line (a NUL, or too long for the kernel)."""
    if "\x00" in text:
        raise ToolError(f"{what} contains a NUL character (\\x00), which no command line can carry; remove it")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_ARGUMENT_BYTES:
        raise ToolError(f"{what} is too long ({size} bytes; the limit is {MAX_ARGUMENT_BYTES}); put long content in a "
                        "file with edit_file and run that instead")


def _infra_checked(result: ExecResult) -> ExecResult:
    """`result`, unless the sandbox itself failed to run the command: that raises, and the step is an env_error."""
    if result.error is not None:
        raise SandboxError(f"the sandbox could not run the command: {result.error}")
    return result
