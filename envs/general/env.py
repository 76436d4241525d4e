"""`general`: an agent works a synthesized environment (SQLite DB + generated tools) and submits a JSON answer.

The tools differ per environment folder, so this env fills `ToolEnv`'s tool list from the folder at each reset and
runs each call through `call_tool`; the step loop, parsing and error labels are `ToolEnv`'s. Every generated tool and
verifier runs in a sandboxed worker (`runtime.py`), never in this process.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

from agentgym.envs.general.builtin import builtin_root, builtin_tasks
from agentgym.envs.general.folder import (
    EnvFolder,
    EnvFolderError,
    check_task_data,
    load_folder,
)
from agentgym.envs.general.pool import shared_runtime_pool
from agentgym.envs.general.runtime import SandboxRuntime, WorkerFailed
from agentgym.envs.general.taskset import read_task_set, task_file

from agentgym.api import Action, Message, Observation, Task, ToolCall, ToolSpec, Verdict
from agentgym.errors import ResetNeeded
from agentgym.sandbox import SandboxConfig
from agentgym.toolenv import ToolEnv, internal_error
from agentgym.tools import ToolScript, tool_call

SYSTEM_PROMPT = (
    "You are an agent working in a database-backed environment. Use the tools to look up what you need, then call "
    "`submit` once with your final answer as a JSON value matching the answer schema. Submitting ends the episode."
)


def submit_spec(answer_schema: dict[str, Any] | None) -> ToolSpec:
    """The env's own answer tool; its `answer` parameter is the task's answer schema (any JSON before a reset)."""
    return ToolSpec(
        name="submit",
        description="Submit the final answer (a JSON value matching the task's answer schema); this ends the episode.",
        parameters={"type": "object", "properties": {"answer": answer_schema if answer_schema is not None else {}},
                    "required": ["answer"]},
    )


class GeneralEnv(ToolEnv):
    """Synthesized general-agent tasks: look things up with the environment's tools, then `submit(answer)`.

    Reward 1.0 iff the task's verifier accepts the answer (and, for DB-changing tasks, the final DB state).

    Args:
        root: where relative ``task.data["env_dir"]`` paths point (a synthesis output directory). Default: the
            built-in environments shipped with the package, materialized once into a cache directory; with `tasks`,
            the task file's folder.
        tasks: serve these synthesized tasks from `sample_tasks` instead of the built-in ones: a task JSONL file or
            an ``agentgym synth general`` output folder (`taskset.py`).
        max_turns: steps before the episode is truncated (each step, valid or not, counts).
        tool_format: how to parse tool calls out of plain text ("auto", "hermes" or "deepseek").
        call_timeout_s: the longest one tool call or verification may take.
        sandbox: settings of the sandboxed worker (default: no network, read-only host, 512 MiB).
        pool_size: workers kept started ahead of time in a process-wide warm pool (see `pool.py`), so the first
            reset of a new env instance takes a ready worker instead of starting one (~0.15 s); 0 disables it.
    """

    name = "general"
    system_prompt = SYSTEM_PROMPT

    def __init__(self, *, root: str | Path | None = None, max_turns: int = 16, tool_format: str = "auto",
                 call_timeout_s: float = 5.0, sandbox: SandboxConfig | None = None,
                 pool_size: int = 0, tasks: str | Path | None = None) -> None:  # fmt: skip
        super().__init__(max_turns=max_turns, tool_format=tool_format)
        self.tasks_path = task_file(tasks) if tasks is not None else None
        self.root = Path(root) if root is not None else self.tasks_path.parent if self.tasks_path else None
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 0:
            raise ValueError(f"pool_size must be an integer >= 0, got {pool_size!r}")
        self.runtime = SandboxRuntime(sandbox, call_timeout_s=call_timeout_s)
        self._pool = shared_runtime_pool(sandbox, call_timeout_s=call_timeout_s, size=pool_size) if pool_size else None
        self.folder: EnvFolder | None = None
        self._specs: list[ToolSpec] = [submit_spec(None)]
        self._folders: dict[Path, EnvFolder] = {}

    # --- the Env protocol ---------------------------------------------------------------------------------------
    def tools(self) -> list[ToolSpec]:
        """The current environment's tools plus `submit` (only `submit`, accepting any JSON, before the first reset)."""
        return list(self._specs)

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        if self.is_closed:
            raise ResetNeeded(f"env {self.name!r} is closed; make a new one")
        check_task_data(task.id, task.data)
        folder = self._folder(task)
        if task.data["env_sha256"] != folder.env_sha256:
            raise EnvFolderError(f"task {task.id!r} was checked against environment {task.data['env_sha256'][:12]}, "
                                 f"but {folder.path} is {folder.env_sha256[:12]}")  # fmt: skip
        names = [s.name for s in folder.specs]
        if self._pool is not None:  # the first reset swaps the unstarted runtime for a warm one
            pool, self._pool = self._pool, None
            self.runtime = await asyncio.to_thread(pool.acquire)
        db_sha = await asyncio.to_thread(self.runtime.load, folder.path, names, folder.db_bytes, folder.tools_source)
        if db_sha != folder.db_sha256:
            raise EnvFolderError(f"{folder.path}/db.sqlite does not match the hash in its manifest")
        self.task, self.folder = task, folder
        self.rng = random.Random(seed)
        self.num_turns = 0
        self._specs = [*folder.specs, submit_spec(task.data["answer_schema"])]
        self.is_running = True
        schema = json.dumps(task.data["answer_schema"], sort_keys=True)
        user = f"{task.prompt}\n\nWhen you are done, call `submit` with `answer` matching this JSON Schema: {schema}"
        return Observation(messages=[Message(role="system", content=SYSTEM_PROMPT), Message(role="user", content=user)])

    async def aclose(self) -> None:
        await asyncio.to_thread(self.runtime.close)

    # --- optional hooks -----------------------------------------------------------------------------------------
    def reference_action(self, task: Task) -> Action:
        """The reference solution's tool calls followed by `submit` of its answer, all in one action."""
        reference = task.data["reference"]
        calls = [ToolCall(id=f"ref-{i}", name=c["name"], arguments=dict(c["arguments"]))
                 for i, c in enumerate(reference["calls"])]
        calls.append(ToolCall(id="ref-submit", name="submit", arguments={"answer": reference["answer"]}))
        return Action(tool_calls=calls)

    def reference_policy(self, task: Task) -> ToolScript:
        """The reference solution's tool calls one turn at a time, then `submit` of its answer."""
        reference = task.data["reference"]
        return ToolScript([*(ToolCall(name=c["name"], arguments=dict(c["arguments"])) for c in reference["calls"]),
                           tool_call("submit", answer=reference["answer"])])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        """`n` of the built-in tasks, or of the `tasks` set (cycling when n exceeds them), in an order fixed by `seed`."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        tasks = read_task_set(self.tasks_path) if self.tasks_path is not None else builtin_tasks()
        order = list(range(len(tasks)))
        random.Random(seed).shuffle(order)
        return [tasks[order[i % len(order)]] for i in range(n)]

    # --- internals ----------------------------------------------------------------------------------------------
    def _folder(self, task: Task) -> EnvFolder:
        path = Path(task.data["env_dir"])
        if not path.is_absolute():
            path = (self.root if self.root is not None else builtin_root()) / path
        if path not in self._folders:
            self._folders[path] = load_folder(path)
        return self._folders[path]

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> tuple[str | Verdict, str | None]:
        """`submit` runs the task's verifier; any other name is the folder's tool, run in the sandboxed worker."""
        try:
            if name == "submit":
                return await self._judge(arguments["answer"]), None
            out = await asyncio.to_thread(self.runtime.call, name, arguments)
        except WorkerFailed as e:
            return internal_error(name, str(e)), "env_error"
        if out.get("ok"):
            return json.dumps(out["result"], ensure_ascii=False), None
        if out.get("kind") == "model_error":
            return f"error: {out.get('error')}", "model_error"
        return internal_error(name, str(out.get("error"))), "env_error"

    async def _judge(self, answer: Any) -> Verdict:
        assert self.task is not None
        passed, reasons = await asyncio.to_thread(self.runtime.verify, self.task.data["verifier"], answer)
        kind = self.task.data["verifier_kind"]
        reasons = [f"verifier ({kind}) {'accepted' if passed else 'rejected'} the answer", *reasons]
        return Verdict(reward=1.0 if passed else 0.0, passed=passed, reasons=reasons,
                       components={"verifier": 1.0 if passed else 0.0})

