"""Episode start latency: `env.reset` of a fresh env instance (as the trainer's collector makes them), with and
without a warm pool, for jupyter (kernels) and the sandbox envs general (workers) and code_repair (sandboxes).

Baseline measured in the same run: the same env with its pool switched off (size 0: every reset starts its own
kernel / worker / sandbox). Between episodes the benchmark sleeps `--gap-s` (the episode's own work, not timed), which
is when a pool refills. Usage: `python benchmarks/pool_latency.py [--episodes 12] [--gap-s 0.3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from typing import Any


async def reset_latencies(make_env: Callable[[], Any], tasks: list, *, gap_s: float) -> list[float]:
    """Seconds of each `reset`, one fresh env per episode, closed after it."""
    out = []
    for task in tasks:
        env = make_env()
        start = time.perf_counter()
        await env.reset(task, seed=0)
        out.append(time.perf_counter() - start)
        await env.close()
        await asyncio.sleep(gap_s)
    return out


def jupyter_rows(num_episodes: int, gap_s: float) -> tuple[list[float], list[float]]:
    from agentgym.envs.jupyter import JupyterEnv, KernelPool

    tasks = JupyterEnv(pool=KernelPool(size=0)).sample_tasks(num_episodes, seed=0)
    with KernelPool(size=0) as cold:
        without = asyncio.run(reset_latencies(lambda: JupyterEnv(pool=cold), tasks, gap_s=gap_s))
    with KernelPool(size=2, keep_warm=True, health_interval_s=0.5) as warm:
        _wait(lambda: warm.num_idle >= 2)
        with_pool = asyncio.run(reset_latencies(lambda: JupyterEnv(pool=warm), tasks, gap_s=gap_s))
    return without, with_pool


def general_rows(num_episodes: int, gap_s: float) -> tuple[list[float], list[float]]:
    from agentgym.envs.general.env import GeneralEnv
    from agentgym.envs.general.pool import shared_runtime_pool

    tasks = GeneralEnv().sample_tasks(num_episodes, seed=0)
    without = asyncio.run(reset_latencies(GeneralEnv, tasks, gap_s=gap_s))
    shared_runtime_pool(None, call_timeout_s=5.0, size=2).wait_ready(30)
    with_pool = asyncio.run(reset_latencies(lambda: GeneralEnv(pool_size=2), tasks, gap_s=gap_s))
    return without, with_pool


def code_repair_rows(num_episodes: int, gap_s: float) -> tuple[list[float], list[float]]:
    from agentgym.envs.code_repair import CodeRepairEnv, fixture_tasks

    tasks = fixture_tasks(num_episodes, seed=0)
    without = asyncio.run(reset_latencies(CodeRepairEnv, tasks, gap_s=gap_s))
    with_pool = asyncio.run(reset_latencies(lambda: CodeRepairEnv(pool_size=2), tasks[:1], gap_s=gap_s))  # warm it
    with_pool = asyncio.run(reset_latencies(lambda: CodeRepairEnv(pool_size=2), tasks, gap_s=gap_s))
    return without, with_pool


def _wait(predicate: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


def print_pool_rows(num_episodes: int = 12, gap_s: float = 0.3) -> None:
    print(f"episode start latency: env.reset of a fresh env, {num_episodes} episodes each, {gap_s:g} s between "
          f"episodes (load average {os.getloadavg()[0]:.1f})")
    print(f"{'env':<12} {'no pool median':>15} {'p90':>8} {'pool median':>12} {'p90':>8} {'ratio':>7}")
    for name, rows in (("jupyter", jupyter_rows), ("general", general_rows), ("code_repair", code_repair_rows)):
        without, with_pool = rows(num_episodes, gap_s)
        a, b = statistics.median(without), statistics.median(with_pool)
        print(f"{name:<12} {a * 1000:>12.1f} ms {_p90(without) * 1000:>5.0f} ms {b * 1000:>9.1f} ms "
              f"{_p90(with_pool) * 1000:>5.0f} ms {a / b:>6.1f}x")


def _p90(values: list[float]) -> float:
    return sorted(values)[min(len(values) - 1, int(0.9 * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--gap-s", type=float, default=0.3)
    args = parser.parse_args()
    print_pool_rows(args.episodes, args.gap_s)


if __name__ == "__main__":
    main()
