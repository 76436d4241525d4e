"""LocalSandbox start-to-exit latency of `python -c pass` against a bare `subprocess.run` of the same command.

Run: `python benchmarks/sandbox_latency.py [N]`. Other benchmarks import `measure_sandbox_overhead`.
Target (issue 3): overhead <= 0.3 s per command.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from agentgym.sandbox import LocalSandbox, SandboxConfig, run_once

TARGET_OVERHEAD_S = 0.3


def _median_s(fn, n: int) -> float:
    fn()  # warm-up: page cache, bwrap probe, imports
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_sandbox_overhead(n: int = 20, *, config: SandboxConfig | None = None) -> dict:
    """Median wall-clock seconds of `python -c pass`: bare, in a persistent LocalSandbox, and one-shot.

    Returns a dict with `bare_s`, `sandbox_s` (persistent sandbox, per `run`), `oneshot_s` (create + run + delete),
    `overhead_s` = sandbox_s - bare_s, `ratio` = sandbox_s / bare_s, `backend`, `n`, and `meets_target`.
    """
    argv = [sys.executable, "-c", "pass"]
    bare = _median_s(lambda: subprocess.run(argv, check=True), n)
    with LocalSandbox(config) as box:
        backend = box.backend

        def in_sandbox() -> None:
            result = box.run(argv)
            if not result.ok:
                raise RuntimeError(f"sandboxed `python -c pass` failed: {result.summary()}: {result.stderr}")

        sandboxed = _median_s(in_sandbox, n)
    oneshot = _median_s(lambda: run_once(argv, config=config), n)
    overhead = sandboxed - bare
    return {"n": n, "backend": backend, "bare_s": bare, "sandbox_s": sandboxed, "oneshot_s": oneshot,
            "overhead_s": overhead, "oneshot_overhead_s": oneshot - bare, "ratio": sandboxed / bare,
            "meets_target": overhead <= TARGET_OVERHEAD_S}  # fmt: skip


def format_report(stats: dict) -> str:
    return "\n".join([
        f"python -c pass, median of {stats['n']} runs (LocalSandbox backend: {stats['backend']})",
        f"  bare subprocess.run       {stats['bare_s'] * 1000:8.1f} ms   1.00x",
        f"  LocalSandbox.run          {stats['sandbox_s'] * 1000:8.1f} ms   {stats['ratio']:.2f}x   overhead {stats['overhead_s']:.3f} s",
        f"  run_once (create+run+rm)  {stats['oneshot_s'] * 1000:8.1f} ms   {stats['oneshot_s'] / stats['bare_s']:.2f}x"
        f"   overhead {stats['oneshot_overhead_s']:.3f} s",
        f"  target overhead <= {TARGET_OVERHEAD_S} s: {'met' if stats['meets_target'] else 'MISSED'}",
    ])  # fmt: skip


if __name__ == "__main__":
    print(format_report(measure_sandbox_overhead(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
