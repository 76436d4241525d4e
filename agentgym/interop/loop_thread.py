"""A private asyncio loop on a daemon thread, so long-lived async resources outlive the caller's event loops.

An MCP client session and the HTTP server's envs must stay on one loop for their whole life, while agentgym callers
(`asyncio.run` per check, the gymnasium adapter's own loop, a server's handler threads) come from many loops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


class LoopThread:
    """Runs coroutines on one private event loop; `submit` works from any thread, `run` from any event loop."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()
        self.is_closed = False

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule `coro` on the private loop; the returned future is safe to wait on from another thread."""
        if self.is_closed:
            coro.close()
            raise RuntimeError("the background loop is closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the private loop and block this thread until it finishes (never call from that loop)."""
        return self.submit(coro).result(timeout)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the private loop and await it from the caller's loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def close(self) -> None:
        """Stop the loop and join the thread. Idempotent."""
        if self.is_closed:
            return
        self.is_closed = True
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
