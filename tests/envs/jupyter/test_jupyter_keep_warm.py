"""KernelPool(keep_warm=True): kernels started ahead of time, the size kept, a killed idle kernel replaced."""

from __future__ import annotations

import time

import pytest
from agentgym.envs.jupyter import KernelConfig, KernelPool

FAST = KernelConfig(cell_timeout_s=3.0, interrupt_grace_s=1.0)


def wait_for(predicate, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.slow
def test_keep_warm_prestarts_keeps_the_size_and_replaces_a_killed_kernel():
    with KernelPool(FAST, size=1, keep_warm=True, health_interval_s=0.1) as pool:
        assert wait_for(lambda: pool.num_idle == 1)
        time.sleep(0.3)
        assert pool.num_started == 1 and pool.num_idle == 1  # the size is respected
        victim = pool._idle[0]
        victim._process.stop()  # the kernel dies while idle
        assert wait_for(lambda: pool.num_replaced == 1 and pool.num_idle == 1)
        assert victim.is_closed
        kernel = pool.acquire()
        assert kernel is not victim and kernel.is_alive and pool.num_started == 2
        kernel.reset(seed=1)
        assert kernel.execute("print(6 * 7)").output.stdout.text() == "42\n"
        assert wait_for(lambda: pool.num_idle == 1 and pool.num_started == 3)  # topped up after the hand-out
        pool.release(kernel)
        assert pool.num_idle == 1 and kernel.is_closed  # already `size` idle: the returned one is shut down
    assert pool.num_idle == 0


def test_maintain_without_a_keeper_and_bad_settings():
    with pytest.raises(ValueError, match="health_interval_s must be > 0"):
        KernelPool(FAST, health_interval_s=0)
    pool = KernelPool(FAST, size=0, keep_warm=True)
    assert pool._keeper is None and pool.maintain() == 0  # size 0: nothing to keep warm
    pool.close()
