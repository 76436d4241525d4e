"""The episodes' loop runs on a helper thread while the model compute runs on the main thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agentgym.rollout.compute_thread import run_compute, run_episodes_loop


def test_compute_runs_on_the_main_thread_while_the_loop_keeps_running():
    seen = {}

    def compute(x):
        seen["compute"] = threading.current_thread() is threading.main_thread()
        return x * 2

    async def episodes():
        seen["loop"] = threading.current_thread() is threading.main_thread()
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        results = await asyncio.gather(*(run_compute(compute, i) for i in range(5)))
        await asyncio.sleep(0.01)
        task.cancel()
        return results, ticks

    results, ticks = run_episodes_loop(episodes)
    assert results == [0, 2, 4, 6, 8]
    assert seen == {"compute": True, "loop": False}
    assert ticks > 1


def test_errors_reach_the_caller_from_compute_and_from_the_loop():
    def boom():
        raise ValueError("compute failed")

    async def calls_boom():
        return await run_compute(boom)

    with pytest.raises(ValueError, match="compute failed"):
        run_episodes_loop(calls_boom)

    async def fails():
        raise KeyError("loop failed")

    with pytest.raises(KeyError, match="loop failed"):
        run_episodes_loop(fails)


def test_off_the_main_thread_it_is_plain_asyncio_with_compute_in_a_worker():
    out = {}

    def compute():
        return threading.current_thread().name

    def producer():
        async def main():
            return await run_compute(compute)
        out["name"] = run_episodes_loop(main)
        out["me"] = threading.current_thread().name

    t = threading.Thread(target=producer, name="producer")
    t.start()
    t.join()
    assert out["name"] != out["me"] and out["name"] != "MainThread"


def test_an_interrupt_during_compute_cancels_the_episodes_and_runs_their_cleanup():
    cleaned = []

    def interrupted():
        raise KeyboardInterrupt

    async def episode(i):
        try:
            if i == 0:
                await run_compute(interrupted)
            await asyncio.sleep(30)
        finally:
            cleaned.append(i)  # e.g. env.close()

    async def episodes():
        await asyncio.gather(*(episode(i) for i in range(3)))

    with pytest.raises(KeyboardInterrupt):
        run_episodes_loop(episodes)
    assert sorted(cleaned) == [0, 1, 2]
