"""Warm pools: the pool size is kept, a dead pooled resource is detected and replaced, nothing is handed out twice."""

from __future__ import annotations

import os
import threading
import time

import pytest

from agentgym.sandbox import SandboxClosed, SandboxPool, WarmPool


def wait_for(predicate, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class Thing:
    """A fake resource that can 'die'."""

    def __init__(self, n: int) -> None:
        self.n, self.is_alive, self.is_disposed = n, True, False


def counting_pool(size: int, **kwargs):
    made: list[Thing] = []
    lock = threading.Lock()

    def start() -> Thing:
        with lock:
            made.append(Thing(len(made)))
            return made[-1]

    pool = WarmPool(start, is_healthy=lambda t: t.is_alive and not t.is_disposed,
                    dispose=lambda t: setattr(t, "is_disposed", True), size=size, **kwargs)
    return pool, made


def test_the_pool_fills_to_its_size_and_refills_after_each_hand_out():
    pool, made = counting_pool(3, health_interval_s=0.05)
    with pool:
        assert pool.wait_ready(10) and pool.num_idle == 3
        time.sleep(0.2)
        assert len(made) == 3  # never more than `size` ready
        got = [pool.acquire(), pool.acquire()]
        assert pool.num_hits == 2 and pool.num_misses == 0 and len({id(t) for t in got}) == 2
        assert wait_for(lambda: pool.num_idle == 3) and len(made) == 5
        pool.release(got[0])
        assert got[0].is_disposed and pool.num_idle == 3  # given back resources are never reused
    assert all(t.is_disposed for t in made if t not in got[1:])


def test_a_dead_idle_resource_is_detected_replaced_and_never_handed_out():
    pool, made = counting_pool(2, health_interval_s=0.05)
    with pool:
        assert pool.wait_ready(10)
        made[0].is_alive = False  # dies while waiting in the pool
        assert wait_for(lambda: pool.num_replaced == 1 and pool.num_idle == 2)
        assert made[0].is_disposed and made[0] not in pool._idle
        for t in pool._idle:
            t.is_alive = False
        fresh = pool.acquire()  # the check at hand-out skips both dead ones
        assert fresh.is_alive and pool.num_replaced >= 2


def test_size_zero_starts_on_demand_and_a_closed_pool_refuses():
    pool, made = counting_pool(0)
    first = pool.acquire()
    assert pool.num_misses == 1 and pool.num_idle == 0 and made == [first]
    pool.close()
    pool.close()
    with pytest.raises(SandboxClosed, match="closed"):
        pool.acquire()
    with pytest.raises(ValueError, match="size must be an integer >= 0"):
        counting_pool(-1)


def test_sandbox_pool_hands_out_ready_sandboxes_and_replaces_a_broken_one():
    with SandboxPool(size=2, health_interval_s=0.05) as pool:
        assert pool.wait_ready(20)
        victim = pool._idle[0]
        victim.close()  # broken while idle
        assert wait_for(lambda: pool.num_replaced == 1 and pool.num_idle == 2)
        box = pool.acquire()
        assert box is not victim and not box.is_closed and os.path.isdir(box.workdir)
        box.write_file("a.txt", "x")
        assert box.run(["cat", "a.txt"]).stdout == "x"
        pool.release(box)
        assert box.is_closed and not os.path.exists(box.workdir)
        idle = list(pool._idle)
    assert all(b.is_closed for b in idle)
