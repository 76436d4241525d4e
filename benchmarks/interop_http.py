"""What serving an env over HTTP costs: `arith` episodes through `HttpEnv` vs the same episodes in-process.

Baseline (same run): the env built with `agentgym.make("arith")` in this process. Each episode is reset + one
calculator step + submit. Run: ``python benchmarks/interop_http.py --episodes 200 --concurrency 1 16``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import agentgym
from agentgym.api import Action, ToolCall
from agentgym.app.http_server import serve_http
from agentgym.interop import HttpEnv


async def play(make_env, tasks, concurrency: int) -> float:
    """Steps per second over all tasks, `concurrency` episodes at a time (one env per worker)."""
    queue: asyncio.Queue = asyncio.Queue()
    for t in tasks:
        queue.put_nowait(t)
    num_steps = 0

    async def worker() -> None:
        nonlocal num_steps
        env = make_env()
        try:
            while not queue.empty():
                task = queue.get_nowait()
                await env.reset(task, seed=0)
                await env.step(Action(tool_calls=[ToolCall(name="calculator",
                                                           arguments={"expression": task.data["expression"]})]))
                await env.step(Action(tool_calls=[ToolCall(name="submit", arguments={"answer": task.data["answer"]})]))
                num_steps += 2
        finally:
            await env.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return num_steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    tasks = agentgym.make("arith").sample_tasks(args.episodes, seed=0)
    print(f"{'concurrency':>11} | {'in-process steps/s':>18} | {'HTTP steps/s':>12} | {'ratio':>6} | HTTP ms per step (1/throughput)")
    with serve_http("arith", max_sessions=max(args.concurrency) + 1) as server:
        for c in args.concurrency:
            local = asyncio.run(play(lambda: agentgym.make("arith"), tasks, c))
            remote = asyncio.run(play(lambda: HttpEnv(server.url), tasks, c))
            print(f"{c:>11} | {local:>18,.0f} | {remote:>12,.0f} | {remote / local:>5.3f}x | {1000 / remote:.2f}")


if __name__ == "__main__":
    main()
