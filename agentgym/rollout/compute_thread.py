"""Run episodes' event loop on a helper thread and the policy's model compute on the calling (main) thread.

Why: the embedded engine's decode is hundreds of small OpenMP-parallel ops per token, and libgomp runs a parallel
region ~1.4x slower when its master is not the process's initial thread (measured on this 2-core box: the same
matmul loop 3.5 s on the main thread, 5.0 s on a `ThreadPoolExecutor` thread, as if its team never spin-waited).
`asyncio.to_thread(engine.generate)` put every decode on such a thread (a batch-4 SmolLM2 generation: 2.0 s on the
main thread, 2.55 s from a worker). Blocking the loop with the generate call instead would stall env steps and let
their timeouts fire late; so the loop moves to a helper thread and keeps running while the main thread computes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import queue
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_SERVER: contextvars.ContextVar[_CallerExecutor | None] = contextvars.ContextVar("agentgym_compute_thread",
                                                                                  default=None)


class _CallerExecutor(concurrent.futures.Executor):
    """Queues calls for the thread that owns it, which runs them in `serve`."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((future, fn, args, kwargs))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    def serve(self) -> None:
        """Run queued calls until `stop`. A KeyboardInterrupt (or SystemExit) reaches the awaiting coroutine and
        propagates from here too."""
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except Exception as e:  # noqa: BLE001 - handed to the awaiting coroutine
                future.set_exception(e)
            except BaseException as e:
                future.set_exception(e)
                raise

    def drain(self) -> None:
        """Cancel queued calls instead of running them, until `stop`."""
        while (job := self._jobs.get()) is not None:
            job[0].cancel()


def run_episodes_loop(main: Callable[[], Awaitable[T]]) -> T:
    """`asyncio.run(main())`, with `run_compute` calls executed on this thread when this is the main thread.

    Elsewhere (already on a helper thread, e.g. the async rollout producer) it is plain `asyncio.run`."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(main())
    server = _CallerExecutor()
    outcome: dict[str, Any] = {}

    async def tracked() -> T:
        outcome["loop"], outcome["task"] = asyncio.get_running_loop(), asyncio.current_task()
        return await main()

    def loop_thread() -> None:
        _SERVER.set(server)  # asyncio.run copies this thread's context into its tasks
        try:
            outcome["value"] = asyncio.run(tracked())
        except BaseException as e:  # noqa: BLE001 - re-raised on the calling thread
            outcome["error"] = e
        finally:
            server.stop()

    thread = threading.Thread(target=loop_thread, name="agentgym-episodes", daemon=True)
    thread.start()
    try:
        server.serve()
    except BaseException:  # Ctrl-C on this thread: cancel the episodes so their cleanup (env.close) runs, then stop
        if "task" in outcome:
            outcome["loop"].call_soon_threadsafe(outcome["task"].cancel)
        server.drain()
        thread.join()
        raise
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def run_compute(fn: Callable[..., T], *args: Any) -> T:
    """Await a blocking compute call: on the thread serving `run_episodes_loop` when there is one, else in a worker
    thread (`asyncio.to_thread`), so the event loop keeps running either way."""
    server = _SERVER.get()
    if server is None:
        return await asyncio.to_thread(fn, *args)
    return await asyncio.wrap_future(server.submit(fn, *args))
