"""Concurrent OpenEnv sessions: `agentgym serve ENV --http` driven by openenv-core's own client, N sessions at once.

OpenEnv publishes 128 concurrent sessions at 100 % success (P99 2.68 s) on a 2-vCPU box and calls 256 unstable. This
opens N WebSocket sessions (`GenericEnvClient`) against one server process, all at once; each plays `--steps` steps
(reset with its own seed, tool calls, then the reference submit), and every step's latency is recorded. A session
succeeds when all its steps answer and the last one earns reward 1. Bounded: every session has a fixed number of
steps and a per-message timeout; the server is stopped at the end. 127.0.0.1 only.

Run: ``python benchmarks/openenv_sessions.py --env arith search --sessions 64 128 256 512``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import time

import agentgym
from openenv.core import GenericEnvClient

STEP_ACTIONS = {  # one tool call per intermediate step: the env's cheap real work
    "arith": lambda i: {"tool_calls": [{"name": "calculator", "arguments": {"expression": f"({i} + 7) * 3"}}]},
    "search": lambda i: {"tool_calls": [{"name": "search", "arguments": {"query": "json decode", "k": 3}}]},
    "general": lambda i: {"text": "thinking, no tool call yet"},
}


async def session(url: str, env_name: str, task, reference: dict, steps: int, latencies: list[float],
                  timeout_s: float) -> bool:
    try:
        async with GenericEnvClient(base_url=url, message_timeout_s=timeout_s, connect_timeout_s=timeout_s) as client:
            await client.reset(task=task.model_dump(mode="json"), seed=0)
            result = None
            for i in range(steps):
                action = reference if i == steps - 1 else STEP_ACTIONS[env_name](i)
                start = time.perf_counter()
                result = await client.step(action)
                latencies.append(time.perf_counter() - start)
            return result is not None and result.reward == 1.0 and result.done
    except Exception:  # noqa: BLE001 - a failed session is counted, not raised
        return False


async def drive(url: str, env_name: str, n: int, steps: int, timeout_s: float) -> tuple[float, list[float], float]:
    env = agentgym.make(env_name)
    tasks = env.sample_tasks(n, seed=0)
    references = [env.reference_action(t).model_dump(mode="json") for t in tasks]
    await env.close()
    latencies: list[float] = []
    start = time.perf_counter()
    ok = await asyncio.gather(*(session(url, env_name, t, r, steps, latencies, timeout_s)
                                for t, r in zip(tasks, references)))
    return sum(ok) / n, latencies, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", nargs="+", default=["arith", "search"])
    parser.add_argument("--sessions", type=int, nargs="+", default=[64, 128, 256, 512])
    parser.add_argument("--steps", type=int, default=8, help="steps per session (the last is the reference submit)")
    parser.add_argument("--timeout-s", type=float, default=60.0)
    args = parser.parse_args()
    print(f"{'env':>7} | {'sessions':>8} | {'success':>7} | {'steps':>6} | {'P50 ms':>7} | {'P99 ms':>7} | "
          f"{'max ms':>7} | {'steps/s':>7} | wall s")
    for env_name in args.env:
        server = subprocess.Popen([sys.executable, "-m", "agentgym.app.cli", "serve", env_name, "--http", "0",
                                   "--max-sessions", str(max(args.sessions))],
                                  stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            url = re.search(r"at (http://127\.0\.0\.1:\d+) ", server.stderr.readline()).group(1)
            for n in args.sessions:
                success, lat, wall = asyncio.run(drive(url, env_name, n, args.steps, args.timeout_s))
                q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
                print(f"{env_name:>7} | {n:>8} | {success:>7.1%} | {len(lat):>6} | {q[49] * 1e3:>7.1f} | "
                      f"{q[98] * 1e3:>7.1f} | {max(lat, default=0) * 1e3:>7.1f} | {len(lat) / wall:>7.0f} | "
                      f"{wall:.1f}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=120)
            server.stderr.close()


if __name__ == "__main__":
    main()
