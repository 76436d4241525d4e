"""Runs a coroutine to completion from synchronous code, even when the calling thread already runs an event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coro)`, moved to a helper thread when this thread has a running loop (e.g. inside Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentgym-sandbox") as pool:
        return pool.submit(asyncio.run, coro).result()
