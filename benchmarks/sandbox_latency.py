"""Sandbox start-to-exit latency of `python -c pass` against a bare `subprocess.run` of the same command.

LocalSandbox rows always; DockerSandbox rows (a command in a running container, a container created + run + removed,
and a code_repair episode reset on each backend) when a Docker engine answers and the base image exists
(`bash scripts/docker_engine.sh start`, `build_base_image()`), all in one run.

Run: `python benchmarks/sandbox_latency.py [N]`. Other benchmarks import `measure_sandbox_overhead`.
Target (issue 3): overhead <= 0.3 s per command.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time

from agentgym.sandbox import DockerSandbox, LocalSandbox, SandboxConfig, run_once

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


def docker_problem(image: str) -> str | None:
    """Why the Docker rows cannot be measured here (None when they can)."""
    try:
        from agentgym.sandbox.docker import load_docker
        from agentgym.sandbox.docker_image import base_python_version

        base_python_version(load_docker().from_env(), image)
    except Exception as e:  # noqa: BLE001 - any failure: no rows, and the reason printed
        return f"{type(e).__name__}: {e}"
    return None


def _reset_s(backend: str, n: int) -> float:
    """Median seconds of a code_repair episode reset (bundled minilib task) on `backend`; the first reset, which
    builds the per-repository image on Docker, is the warm-up."""
    from agentgym.envs.code_repair import CodeRepairEnv, fixture_tasks

    task = fixture_tasks(1, seed=0)[0]
    env = CodeRepairEnv(backend=backend)
    loop = asyncio.new_event_loop()
    try:
        return _median_s(lambda: loop.run_until_complete(env.reset(task, seed=0)), n)
    finally:
        loop.run_until_complete(env.close())
        loop.close()


def measure_docker_overhead(n: int = 20, *, image: str | None = None) -> dict:
    """Median seconds: `python -c pass` in a running container (`docker exec`), a container created + run + removed,
    and code_repair episode resets on Docker and on LocalSandbox (`reset_docker_s`, `reset_local_s`)."""
    from agentgym.sandbox.docker_image import BASE_IMAGE

    image = image or BASE_IMAGE
    argv = ["python3", "-c", "pass"]
    with DockerSandbox(image=image) as box:
        exec_s = _median_s(lambda: box.run(argv), n)

    def oneshot() -> None:
        with DockerSandbox(image=image) as one:
            one.run(argv)

    return {"n": n, "image": image, "exec_s": exec_s, "oneshot_s": _median_s(oneshot, n),
            "reset_docker_s": _reset_s("docker", max(3, n // 4)),
            "reset_local_s": _reset_s("local", max(3, n // 4))}  # fmt: skip


def format_docker_report(stats: dict, bare_s: float) -> str:
    rows = [("DockerSandbox.run (docker exec)", stats["exec_s"]),
            ("DockerSandbox create+run+remove", stats["oneshot_s"])]  # fmt: skip
    lines = [f"Docker ({stats['image']}), same run, median of {stats['n']}:"]
    lines += [f"  {name:<32}{t * 1000:8.1f} ms   {t / bare_s:.2f}x   overhead {t - bare_s:.3f} s" for name, t in rows]
    lines.append(f"  code_repair reset: Docker {stats['reset_docker_s'] * 1000:.1f} ms, "
                 f"LocalSandbox {stats['reset_local_s'] * 1000:.1f} ms "
                 f"({stats['reset_docker_s'] / stats['reset_local_s']:.2f}x)")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    num_runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    local_stats = measure_sandbox_overhead(num_runs)
    print(format_report(local_stats))
    from agentgym.sandbox.docker_image import BASE_IMAGE

    problem = docker_problem(BASE_IMAGE)
    if problem is None:
        print(format_docker_report(measure_docker_overhead(num_runs), local_stats["bare_s"]))
    else:
        print(f"Docker rows skipped: {problem}")
