"""Evaluation overhead: `run_eval` (rollout + token bookkeeping + report + plots) vs bare `run_episodes`, and the
stable pass@k product form vs exact binomials (`math.comb` in `fractions.Fraction`).

Baselines measured in the same run: `run_episodes` on the same tasks and policy with no evaluation around it; exact
rational pass@k over the same (n, c) pairs. Usage: `python benchmarks/eval_overhead.py [--tasks 256 --n 8]`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
from fractions import Fraction

import agentgym
from agentgym.eval import EvalConfig, pass_at_k, run_eval
from agentgym.envs.arith.solver import arith_solver
from agentgym.rollout import RolloutConfig, ScriptedPolicy, run_episodes


def bare_rollout(num_tasks: int, n: int) -> float:
    tasks = agentgym.make("arith").sample_tasks(num_tasks, seed=0)
    config = RolloutConfig(num_samples=n, concurrency=64, max_turns=4, progress=False)
    start = time.perf_counter()
    asyncio.run(run_episodes(lambda: agentgym.make("arith"), ScriptedPolicy(arith_solver), tasks, config))
    return time.perf_counter() - start


def full_eval(num_tasks: int, n: int) -> float:
    config = EvalConfig(envs=("arith",), num_samples=n, num_tasks=num_tasks, concurrency=64, max_turns=4)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_eval(config, ScriptedPolicy(arith_solver), out)
        return time.perf_counter() - start


def exact_pass_at_k(n: int, c: int, k: int) -> float:
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def passk_speed(n: int) -> tuple[float, float, float]:
    pairs = [(n, c, k) for c in range(0, n + 1, max(1, n // 50)) for k in range(1, n + 1, max(1, n // 20))]
    start = time.perf_counter()
    fast = [pass_at_k(*p) for p in pairs]
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    exact = [exact_pass_at_k(*p) for p in pairs]
    exact_s = time.perf_counter() - start
    return fast_s, exact_s, max(abs(a - b) for a, b in zip(fast, exact))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=256)
    parser.add_argument("--n", type=int, default=8)
    args = parser.parse_args()

    full_eval(4, 2)  # warm up imports (matplotlib) so they are not charged to either side
    bare = bare_rollout(args.tasks, args.n)
    full = full_eval(args.tasks, args.n)
    episodes = args.tasks * args.n
    print(f"arith, {args.tasks} tasks x n={args.n} = {episodes} episodes, scripted calculator->submit policy")
    print(f"{'':>28} {'seconds':>8} {'episodes/s':>11}")
    print(f"{'run_episodes (baseline)':>28} {bare:>8.2f} {episodes / bare:>11.0f}")
    print(f"{'run_eval (+report, plots)':>28} {full:>8.2f} {episodes / full:>11.0f}")
    print(f"ratio run_eval / run_episodes: {full / bare:.2f}x (evaluation overhead {full - bare:+.2f} s)")

    for n in (100, 1000):
        fast_s, exact_s, error = passk_speed(n)
        print(f"pass@k n={n}: product form {fast_s * 1e3:.1f} ms vs exact Fraction {exact_s * 1e3:.1f} ms "
              f"-> {exact_s / fast_s:.1f}x faster, max abs error {error:.1e}")


if __name__ == "__main__":
    main()
