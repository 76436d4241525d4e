"""KernelPool: warm reuse with a reset namespace, replacement of dead kernels, bounds, and no leaked processes."""

from __future__ import annotations

import os
import threading

import pytest

from agentgym.envs.jupyter import KernelConfig, KernelPool, PoolExhausted, shared_pool
from agentgym.sandbox.identity import pids_owned_by

FAST = KernelConfig(cell_timeout_s=3.0, interrupt_grace_s=1.0)


def processes_left(uid: int, timeout_s: float = 3.0) -> list[int]:
    """Live pids of `uid` after giving the kernel up to `timeout_s` to tear them down."""
    import time

    deadline = time.monotonic() + timeout_s
    while (left := pids_owned_by(uid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def test_a_released_kernel_is_reused_with_a_reset_namespace(jupyter_pool):
    kernel = jupyter_pool.acquire()
    kernel.reset()
    kernel.execute("leftover = 1")
    jupyter_pool.release(kernel)
    again = jupyter_pool.acquire()
    try:
        assert again is kernel  # warm: no new start
        again.reset()
        assert again.execute("'leftover' in dir()").output.results == ["False"]
    finally:
        jupyter_pool.release(again)


def test_a_kernel_that_died_while_idle_is_replaced(jupyter_pool):
    kernel = jupyter_pool.acquire()
    jupyter_pool.release(kernel)
    kernel._process.stop()  # simulate a crash while it sat in the pool
    fresh = jupyter_pool.acquire()
    try:
        assert fresh is not kernel and fresh.is_alive and kernel.is_closed
    finally:
        jupyter_pool.release(fresh)


@pytest.mark.slow
def test_close_shuts_down_every_kernel_idle_or_in_use_and_leaks_no_process():
    pool = KernelPool(FAST, size=1, max_kernels=2)
    pool.warm_up()
    busy = pool.acquire()
    idle = pool.acquire()
    pool.release(idle)
    uids = [busy.uid, idle.uid]
    dirs = [busy.work_dir, idle.work_dir]
    assert pool.num_idle == 1 and pool.num_in_use == 1
    pool.close()
    pool.close()  # idempotent
    assert busy.is_closed and idle.is_closed
    assert not any(os.path.exists(d) for d in dirs)
    if os.geteuid() == 0:
        assert [processes_left(uid) for uid in uids] == [[], []]
    with pytest.raises(Exception, match="closed"):
        pool.acquire()


@pytest.mark.slow
def test_max_kernels_bounds_the_pool_and_a_release_wakes_a_waiter():
    with KernelPool(FAST, size=0, max_kernels=1) as pool:
        first = pool.acquire()
        with pytest.raises(PoolExhausted, match="all 1 kernels stayed in use"):
            pool.acquire(timeout_s=0.2)
        got = []
        waiter = threading.Thread(target=lambda: got.append(pool.acquire(timeout_s=30)))
        waiter.start()
        pool.release(first)  # size=0: shut down, which frees the slot for the waiter's new kernel
        waiter.join(30)
        assert len(got) == 1 and got[0].is_alive and first.is_closed
        pool.release(got[0])


def test_shared_pools_are_keyed_by_config_and_size_and_configs_are_validated():
    config = KernelConfig(cell_timeout_s=2.5)
    assert shared_pool(config, size=1) is shared_pool(KernelConfig(cell_timeout_s=2.5), size=1)
    assert shared_pool(config, size=1) is not shared_pool(config, size=2)
    with pytest.raises(ValueError, match="cell_timeout_s must be a finite number >= 0.05, got 0"):
        KernelConfig(cell_timeout_s=0)
    with pytest.raises(ValueError, match="memory_bytes must be an integer >= 268435456"):
        KernelConfig(memory_bytes=1000)
    with pytest.raises(ValueError, match="max_kernels must be None or an integer >= max"):
        KernelPool(config, size=3, max_kernels=2)


def test_kernels_do_not_outlive_the_interpreter(tmp_path):
    """A script that builds an env on the shared pool and exits without closing anything leaves no kernel behind."""
    import subprocess
    import sys

    script = (
        "import asyncio, os\n"
        "from agentgym.envs.jupyter import JupyterEnv, generate_tasks\n"
        "env = JupyterEnv()\n"
        "asyncio.run(env.reset(generate_tasks(1)[0]))\n"
        "print(env.kernel.uid, env.kernel._process.pid, flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    uid, pid = map(int, out.stdout.split())
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    if os.geteuid() == 0:
        assert processes_left(uid) == []
