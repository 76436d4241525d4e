"""Env throughput: `arith` steps/s with 1 vs 256 concurrent episodes (scripted policy), and LocalSandbox overhead.

Baselines measured in the same run: 1 concurrent episode for the env rows; a bare `subprocess.run` of the same
command for the sandbox row; the same env without its warm pool for the episode-start rows (`pool_latency.py`).
Usage: `python benchmarks/env_throughput.py [--episodes 2048] [--pools-only]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import agentgym
from agentgym.envs.arith.solver import arith_solver
from agentgym.rollout import RolloutConfig, ScriptedPolicy, run_episodes


def measure_env(num_episodes: int, concurrency: int) -> dict:
    tasks = agentgym.make("arith").sample_tasks(num_episodes, seed=0)
    config = RolloutConfig(concurrency=concurrency, max_turns=4, progress=False)
    start = time.perf_counter()
    trajs = asyncio.run(run_episodes(lambda: agentgym.make("arith"), ScriptedPolicy(arith_solver), tasks, config))
    seconds = time.perf_counter() - start
    steps = sum(t.num_turns for t in trajs)
    assert all(t.reward == 1.0 for t in trajs), "the scripted solver must solve every task"
    return {"concurrency": concurrency, "episodes": num_episodes, "steps": steps, "seconds": seconds,
            "steps_per_s": steps / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=2048)
    parser.add_argument("--sandbox-runs", type=int, default=20)
    parser.add_argument("--pool-episodes", type=int, default=12, help="episodes per row of the warm-pool section")
    parser.add_argument("--pools-only", action="store_true", help="run only the warm-pool start-latency rows")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from pool_latency import print_pool_rows

    if args.pools_only:
        print_pool_rows(args.pool_episodes)
        return

    one = measure_env(max(64, args.episodes // 8), 1)
    many = measure_env(args.episodes, 256)
    print("arith env throughput (scripted calculator→submit policy, 2 steps per episode)")
    print(f"{'concurrency':>12} {'episodes':>9} {'steps':>7} {'seconds':>8} {'steps/s':>9}")
    for row in (one, many):
        print(f"{row['concurrency']:>12} {row['episodes']:>9} {row['steps']:>7} {row['seconds']:>8.2f} "
              f"{row['steps_per_s']:>9.0f}")
    print(f"ratio 256 vs 1 concurrent: {many['steps_per_s'] / one['steps_per_s']:.2f}x "
          f"(target: >= 1,000 steps/s at 256 concurrent -> {'MET' if many['steps_per_s'] >= 1000 else 'MISSED'})")

    sys.path.insert(0, str(Path(__file__).parent))
    from sandbox_latency import measure_sandbox_overhead
    from search import tool_calls_per_second

    from agentgym.envs.search.index_store import ensure_index
    from agentgym.envs.search.index import LocalIndex

    index = LocalIndex(ensure_index())
    print()
    print(f"search env: {asyncio.run(tool_calls_per_second(index, 2000)):.0f} tool calls/s "
          "(search/open/find, one episode, python-docs index)")

    from jupyter_throughput import measure_jupyter

    print()
    print("jupyter env: trivial cells executed per second through the env's execute tool (sandboxed kernels)")
    for num_kernels in (1, 8):
        row = measure_jupyter(num_kernels)
        print(f"  {num_kernels} kernel(s): " + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                                     for k, v in row.items()))

    sb = measure_sandbox_overhead(args.sandbox_runs)
    print()
    print("LocalSandbox start-to-exit latency for `python -c pass` (median)")
    for key, value in sb.items():
        print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")

    print()
    print_pool_rows(args.pool_episodes)


if __name__ == "__main__":
    main()
