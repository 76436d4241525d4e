"""`general`: an agent works a synthesized environment (SQLite DB + generated tools) and submits a JSON answer.

The tools differ per environment folder, so this env implements the `agentgym.api.Env` protocol directly and reuses
the shared tool-call parser and argument validator. Every generated tool and verifier runs in a sandboxed worker
(`runtime.py`), never in this process.
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

from agentgym.api import (
    Action,
    Message,
    Observation,
    StepResult,
    Task,
    ToolCall,
    ToolSpec,
    Verdict,
)
from agentgym.errors import ResetNeeded
from agentgym.sandbox import SandboxConfig
from agentgym.tools import parse_tool_calls, validate_call

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


class GeneralEnv:
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

    def __init__(self, *, root: str | Path | None = None, max_turns: int = 16, tool_format: str = "auto",
                 call_timeout_s: float = 5.0, sandbox: SandboxConfig | None = None,
                 pool_size: int = 0, tasks: str | Path | None = None) -> None:  # fmt: skip
        if not isinstance(max_turns, int) or max_turns < 1:
            raise ValueError(f"max_turns must be a positive integer, got {max_turns!r}")
        if tool_format not in ("auto", "hermes", "deepseek"):
            raise ValueError(f"tool_format must be 'auto', 'hermes' or 'deepseek', got {tool_format!r}")
        self.tasks_path = task_file(tasks) if tasks is not None else None
        self.root = Path(root) if root is not None else self.tasks_path.parent if self.tasks_path else None
        self.max_turns = max_turns
        self.tool_format = tool_format
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 0:
            raise ValueError(f"pool_size must be an integer >= 0, got {pool_size!r}")
        self.runtime = SandboxRuntime(sandbox, call_timeout_s=call_timeout_s)
        self._pool = shared_runtime_pool(sandbox, call_timeout_s=call_timeout_s, size=pool_size) if pool_size else None
        self.task: Task | None = None
        self.folder: EnvFolder | None = None
        self.rng = random.Random()
        self.num_turns = 0
        self.is_running = False
        self.is_closed = False
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

    async def step(self, action: Action) -> StepResult:
        if not self.is_running:
            raise ResetNeeded(
                f"env {self.name!r}: step() called before reset() or after the episode ended; call reset(task) first"
            )
        self.num_turns += 1
        calls, messages, error = self._parse(action)
        verdict: Verdict | None = None
        for call in calls:
            if verdict is not None:
                messages.append(_tool_message(call, "ignored: the episode already ended with the call before this one"))
                continue
            content, result, call_error = await self._run_call(call)
            error = "env_error" if "env_error" in (error, call_error) else error or call_error
            verdict = result if isinstance(result, Verdict) else None
            messages.append(_tool_message(call, content))
        terminated = verdict is not None
        truncated = not terminated and self.num_turns >= self.max_turns
        info: dict[str, Any] = {"num_calls": len(calls)}
        if truncated:
            info["truncation_reason"] = f"turn budget of {self.max_turns} steps reached"
        self.is_running = not (terminated or truncated)
        return StepResult(observation=Observation(messages=messages), reward=verdict.reward if verdict else 0.0,
                          terminated=terminated, truncated=truncated, verdict=verdict, error=error,
                          info=info)

    async def close(self) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        self.is_running = False
        await asyncio.to_thread(self.runtime.close)

    async def __aenter__(self) -> GeneralEnv:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- optional hooks -----------------------------------------------------------------------------------------
    def reference_action(self, task: Task) -> Action:
        """The reference solution's tool calls followed by `submit` of its answer, all in one action."""
        reference = task.data["reference"]
        calls = [ToolCall(id=f"ref-{i}", name=c["name"], arguments=dict(c["arguments"]))
                 for i, c in enumerate(reference["calls"])]
        calls.append(ToolCall(id="ref-submit", name="submit", arguments={"answer": reference["answer"]}))
        return Action(tool_calls=calls)

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

    def _parse(self, action: Action) -> tuple[list[ToolCall], list[Message], str | None]:
        if action.tool_calls:
            return list(action.tool_calls), [], None
        parsed = parse_tool_calls(action.text, self.tool_format)  # type: ignore[arg-type]
        messages = [Message(role="tool", name="error", content=f"error: {e}") for e in parsed.errors]
        if not parsed.calls and not parsed.errors:
            names = ", ".join(s.name for s in self._specs)
            messages.append(Message(role="user", content=f"No tool call found in your message. Call one of the "
                                                         f"tools ({names}) to continue."))  # fmt: skip
        return list(parsed.calls), messages, "model_error" if messages else None

    async def _run_call(self, call: ToolCall) -> tuple[str, Verdict | None, str | None]:
        problem = validate_call(call, self._specs)
        if problem is not None:
            return f"error: {problem}", None, "model_error"
        arguments = call.arguments if isinstance(call.arguments, dict) else json.loads(call.arguments or "{}")
        try:
            if call.name == "submit":
                verdict = await self._judge(arguments["answer"])
                return f"submitted; reward {verdict.reward:g}", verdict, None
            out = await asyncio.to_thread(self.runtime.call, call.name, arguments)
        except WorkerFailed as e:
            return f"internal error in tool {call.name!r} ({e}); this is not your fault", None, "env_error"
        if out.get("ok"):
            return json.dumps(out["result"], ensure_ascii=False), None, None
        if out.get("kind") == "model_error":
            return f"error: {out.get('error')}", None, "model_error"
        return f"internal error in tool {call.name!r} ({out.get('error')}); this is not your fault", None, "env_error"

    async def _judge(self, answer: Any) -> Verdict:
        assert self.task is not None
        passed, reasons = await asyncio.to_thread(self.runtime.verify, self.task.data["verifier"], answer)
        kind = self.task.data["verifier_kind"]
        reasons = [f"verifier ({kind}) {'accepted' if passed else 'rejected'} the answer", *reasons]
        return Verdict(reward=1.0 if passed else 0.0, passed=passed, reasons=reasons,
                       components={"verifier": 1.0 if passed else 0.0})


def _tool_message(call: ToolCall, content: str) -> Message:
    return Message(role="tool", name=call.name, tool_call_id=call.id or None, content=content)
