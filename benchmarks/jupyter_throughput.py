"""Jupyter env throughput: trivial-cell `execute` steps/s with 1 and 8 sandboxed kernels, against unsandboxed kernels.

Sandboxed: `JupyterEnv` episodes on a warm `KernelPool`, each stepping `execute("1")` through the full env path (tool
call validation, bwrap-isolated kernel over ipc sockets, output rendering); N episodes run concurrently in one event
loop. Same run, for comparison: the same env path with `isolation="none"` (what the sandbox itself costs), and the
baseline: N plain jupyter-client kernels (`KernelManager`, ipc sockets, no sandbox), each driven by
`BlockingKernelClient.execute_interactive("1")` in its own thread. Usage: `python benchmarks/jupyter_throughput.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import tempfile
import threading
import time

from agentgym.api import Action, ToolCall
from agentgym.envs.jupyter import JupyterEnv, KernelConfig, KernelPool, generate_tasks

TARGET_PER_S = 50.0
_CELL = Action(tool_calls=[ToolCall(id="b", name="execute", arguments={"code": "1"})])


async def _env_path(num_kernels: int, num_cells: int, *, isolation: str = "auto") -> float:
    with KernelPool(KernelConfig(isolation=isolation), size=num_kernels) as pool:
        pool.warm_up(num_kernels)
        task = generate_tasks(1, families=("number_theory",))[0]
        envs = [JupyterEnv(pool=pool, max_turns=num_cells + 10) for _ in range(num_kernels)]
        for env in envs:
            await env.reset(task, seed=0)
            await env.step(_CELL)  # warm the path once

        async def drive(env: JupyterEnv) -> None:
            for _ in range(num_cells):
                result = await env.step(_CELL)
                if result.observation.messages[0].content != "result:\n1":  # every cell must really run
                    raise RuntimeError(f"unexpected observation: {result.observation.messages[0].content!r}")

        start = time.perf_counter()
        await asyncio.gather(*(drive(env) for env in envs))
        seconds = time.perf_counter() - start
        for env in envs:
            await env.close()
    return seconds


def _unsandboxed(num_kernels: int, num_cells: int) -> float:
    from jupyter_client import KernelManager

    folder = tempfile.mkdtemp(prefix="jupyter-baseline-")
    managers = [KernelManager(transport="ipc", ip=os.path.join(folder, f"k{i}")) for i in range(num_kernels)]
    clients = []
    try:
        for manager in managers:
            manager.start_kernel()
            client = manager.client()
            client.start_channels()
            client.wait_for_ready(timeout=60)
            clients.append(client)
        errors: list[BaseException] = []

        def drive(client) -> None:  # noqa: ANN001 - a BlockingKernelClient
            try:
                for _ in range(num_cells):
                    reply = client.execute_interactive("1", timeout=30, output_hook=lambda msg: None)
                    if reply["content"]["status"] != "ok":
                        raise RuntimeError(f"baseline cell failed: {reply['content']}")
            except BaseException as e:  # noqa: BLE001 - reported by the caller
                errors.append(e)

        threads = [threading.Thread(target=drive, args=(c,)) for c in clients]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - start
        if errors:
            raise errors[0]
        return seconds
    finally:
        for client in clients:
            client.stop_channels()
        for manager in managers:
            manager.shutdown_kernel(now=True)
        shutil.rmtree(folder, ignore_errors=True)


def measure_jupyter(num_kernels: int, *, num_cells: int = 200) -> dict:
    """Trivial-cell executes/s with `num_kernels` sandboxed kernels (env path) and the unsandboxed baseline.

    Returns ``{"kernels", "executes", "seconds", "executes_per_s", "unisolated_executes_per_s",
    "baseline_executes_per_s", "ratio", "target_met"}``: `num_cells` cells run per kernel; `unisolated` is the same
    env path with `isolation="none"` (the sandbox's own cost); `ratio` is sandboxed / plain jupyter-client baseline.
    """
    if num_kernels < 1 or num_cells < 1:
        raise ValueError(f"num_kernels and num_cells must be >= 1, got {num_kernels}, {num_cells}")
    executes = num_kernels * num_cells
    seconds = asyncio.run(_env_path(num_kernels, num_cells))
    logging.getLogger("agentgym.sandbox").setLevel(logging.ERROR)  # isolation='none' warns loudly, on purpose
    unisolated_seconds = asyncio.run(_env_path(num_kernels, num_cells, isolation="none"))
    baseline_seconds = _unsandboxed(num_kernels, num_cells)
    rate, baseline = executes / seconds, executes / baseline_seconds
    return {"kernels": num_kernels, "executes": executes, "seconds": seconds, "executes_per_s": rate,
            "unisolated_executes_per_s": executes / unisolated_seconds, "baseline_executes_per_s": baseline,
            "ratio": rate / baseline, "target_met": rate >= TARGET_PER_S}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=200, help="cells per kernel")
    args = parser.parse_args()
    rows = [measure_jupyter(n, num_cells=args.cells) for n in (1, 8)]
    print("jupyter env: trivial-cell executes/s (sandboxed env path vs unsandboxed jupyter-client baseline)")
    print(f"{'kernels':>8} {'executes':>9} {'seconds':>8} {'sandboxed/s':>12} {'no-isolation/s':>15} "
          f"{'baseline/s':>11} {'ratio':>6} target")
    for row in rows:
        print(f"{row['kernels']:>8} {row['executes']:>9} {row['seconds']:>8.2f} {row['executes_per_s']:>12.0f} "
              f"{row['unisolated_executes_per_s']:>15.0f} {row['baseline_executes_per_s']:>11.0f} "
              f"{row['ratio']:>5.2f}x "
              f"{'MET' if row['target_met'] else 'MISSED'} (>= {TARGET_PER_S:.0f}/s)")


if __name__ == "__main__":
    main()
