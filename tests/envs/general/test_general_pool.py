"""general env with a warm worker pool: the first reset takes a started worker; a killed idle worker is replaced."""

from __future__ import annotations

import time

import pytest
from agentgym.envs.general.env import GeneralEnv
from agentgym.envs.general.pool import shared_runtime_pool


def wait_for(predicate, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


async def test_reset_takes_a_warm_worker_and_a_dead_one_is_replaced():
    pool = shared_runtime_pool(None, call_timeout_s=4.0, size=1)
    try:
        assert pool.wait_ready(30)
        victim = pool._idle[0]
        victim._proc.stop()  # the worker dies while idle
        assert wait_for(lambda: pool.num_replaced == 1 and pool.num_idle == 1)
        env = GeneralEnv(pool_size=1, call_timeout_s=4.0)
        task = env.sample_tasks(1, seed=0)[0]
        await env.reset(task, seed=0)
        assert pool.num_hits == 1 and pool.num_misses == 0 and env.runtime is not victim and env.runtime.is_alive
        result = await env.step(env.reference_action(task))
        assert result.reward == 1.0
        runtime = env.runtime
        await env.close()
        assert not runtime.is_alive  # a worker that ran an episode is never handed out again
        assert wait_for(lambda: pool.num_idle == 1)
    finally:
        pool.close()
    with pytest.raises(ValueError, match="pool_size must be an integer >= 0"):
        GeneralEnv(pool_size=-1)
