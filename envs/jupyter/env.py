"""`jupyter`: a code-interpreter env on a real sandboxed IPython kernel, with `execute(code)` and `submit(answer)`."""

from __future__ import annotations

import asyncio

from agentgym.api import Action, Task, ToolCall, Verdict
from agentgym.envs.jupyter.config import KernelConfig
from agentgym.envs.jupyter.kernel import ExecOutcome, SandboxedKernel
from agentgym.envs.jupyter.oracle import printed_answer
from agentgym.envs.jupyter.output import render
from agentgym.envs.jupyter.pool import KernelPool, shared_pool
from agentgym.envs.jupyter.tasks import FAMILIES, generate_tasks
from agentgym.envs.jupyter.verify import check_answer
from agentgym.toolenv import ToolEnv, ToolError, tool
from agentgym.tools import ToolScript, last_tool_output, tool_call


class JupyterEnv(ToolEnv):
    """Solve a computational question by running Python in a Jupyter kernel, then submit the answer.

    Each episode holds one kernel from a pool (warm kernels are reused with a cleared namespace and working
    directory). Reward 1 iff the submitted answer is right: integers exactly, decimals within the stated rounding,
    names case-insensitively, expressions by mathematical equivalence.

    Observations of `execute`: stdout, stderr, results and errors as text. A Python exception is an ordinary result.
    A cell past `cell_timeout_s` is interrupted, and a kernel that dies (e.g. `os._exit(1)`) or ignores the interrupt
    is restarted; both are reported with `error="model_error"`. A kernel that cannot start or be restarted, or that
    died between cells (not while running the agent's code), is an `env_error`.

    Args:
        max_turns: steps before truncation.
        difficulty: 1..5, passed to every task family by `sample_tasks`.
        families: the task families `sample_tasks` mixes.
        kernel: the kernel sandbox and timeouts (used when `pool` is None).
        pool: the kernel pool to draw from; None uses the process-wide pool for `kernel` (shared by every env built
            with the same config, closed at interpreter exit).
        pool_size: warm kernels the shared pool keeps (when `pool` is None).
        keep_warm: the shared pool starts `pool_size` kernels ahead of time in a background thread, tops itself up
            after each hand-out and replaces dead idle kernels (when `pool` is None); see `KernelPool`.
    """

    name = "jupyter"
    system_prompt = (
        "You answer questions by running Python code. Call `execute` with code to run it in a Jupyter kernel "
        "(variables persist between calls; numpy, pandas and sympy are installed; there is no network and no stdin). "
        "When you know the answer, call `submit` with it."
    )

    def __init__(self, *, max_turns: int = 12, difficulty: int = 2, families: tuple[str, ...] = FAMILIES,
                 kernel: KernelConfig | None = None, pool: KernelPool | None = None, pool_size: int = 2,
                 keep_warm: bool = False, tool_format: str = "auto") -> None:  # fmt: skip
        super().__init__(max_turns=max_turns, tool_format=tool_format)
        generate_tasks(0, difficulty=difficulty, families=families)  # validates both now, not at the first sample
        self.difficulty = difficulty
        self.families = tuple(families)
        self.pool = pool if pool is not None else shared_pool(kernel, size=pool_size, keep_warm=keep_warm)
        self.kernel: SandboxedKernel | None = None

    @tool("Run Python code in the Jupyter kernel and return its output (stdout, stderr, the last expression's value, "
          "errors). State persists between calls.",
          code={"type": "string", "description": "Python code to run"})
    async def execute(self, code: str) -> str:
        assert self.kernel is not None  # internal invariant: set by on_reset before any step
        if not self.kernel.is_alive:  # died between cells, not during the agent's code: the env failed
            await self.kernel.arestart()
            raise KernelLost("the kernel died between cells (not during this call) and was restarted: all variables "
                             "and imports are gone")
        outcome = await self.kernel.aexecute(code)
        text = render(outcome.output, max_chars=self.pool.config.max_output_chars,
                      max_traceback_frames=self.pool.config.max_traceback_frames)  # fmt: skip
        if outcome.status == "died":
            raise ToolError(f"the kernel died while running this cell{_exit_note(outcome)} and was restarted: all "
                            f"variables and imports are gone (files in the working directory are kept). Output before "
                            f"it died:\n{text}")  # fmt: skip
        if outcome.status == "timeout":
            timeout = f"{self.pool.config.cell_timeout_s:g} s"
            if outcome.is_restarted:
                raise ToolError(f"the cell ran longer than {timeout} and did not stop when interrupted, so the "
                                f"kernel was restarted: all variables and imports are gone. Output so far:\n{text}")
            raise ToolError(f"the cell ran longer than {timeout} and was interrupted (variables defined before it "
                            f"are kept). Output:\n{text}")  # fmt: skip
        return text

    @tool("Submit the final answer; this ends the episode.",
          answer={"type": ["string", "number"], "description": "the answer, e.g. 1234, 12.35, anvil or 2*x + 1"})
    async def submit(self, answer: str) -> Verdict:
        assert self.task is not None
        return await asyncio.to_thread(check_answer, str(answer), self.task.data)

    async def on_reset(self, task: Task, seed: int | None) -> None:
        if self.kernel is None:
            self.kernel = await asyncio.to_thread(self.pool.acquire)
        await self.kernel.areset(task.data.get("files") or {}, seed=seed)

    async def aclose(self) -> None:
        if self.kernel is not None:
            kernel, self.kernel = self.kernel, None
            await asyncio.to_thread(self.pool.release, kernel)

    def reference_action(self, task: Task) -> Action:
        """Submit the task's verified answer (no kernel work); see `oracle.solve` for a policy that computes it."""
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": task.data["answer"]})])

    def reference_policy(self, task: Task) -> ToolScript:
        """`execute` the task's solution code, then `submit` the last line it printed (read from the output)."""
        return ToolScript([tool_call("execute", code=task.data["solution_code"]),
                           lambda messages: tool_call("submit", answer=printed_answer(last_tool_output(messages)))])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        return generate_tasks(n, seed=seed, difficulty=self.difficulty, families=self.families)


class KernelLost(RuntimeError):
    """The kernel died outside the agent's code (between cells): an env failure, labelled `env_error`."""


def _exit_note(outcome: ExecOutcome) -> str:
    return f" (exit status {outcome.exit_code})" if outcome.exit_code is not None else ""
