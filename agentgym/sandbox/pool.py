"""Warm pools: resources (sandboxes, sandboxed workers) started ahead of time, so an episode's reset never waits.

`WarmPool` keeps `size` idle resources ready. A background thread starts replacements as soon as one is handed out,
and health-checks the idle ones every `health_interval_s`, replacing any that died. `acquire` health-checks again
before handing one out; when none is ready it starts one on the spot (a miss), so a pool never blocks an episode.
Handed-out resources are never reused: `release` disposes of them (an episode leaves state behind). Thread-safe and
not tied to an event loop. `SandboxPool` is the pool of `LocalSandbox`es.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from agentgym.sandbox.config import SandboxConfig
from agentgym.sandbox.errors import SandboxClosed
from agentgym.sandbox.local import LocalSandbox

T = TypeVar("T")
P = TypeVar("P")  # a pool: has `is_closed` and `close()`


class WarmPool(Generic[T]):
    """`size` ready-made resources from `start`, checked with `is_healthy`, disposed of with `dispose`.

    Args:
        start: makes one resource (blocking; may raise, which `acquire` passes on).
        is_healthy: whether a resource is still usable (cheap; called before hand-out and by the health check).
        dispose: releases a resource (idempotent).
        size: resources kept ready; 0 disables the background thread (every `acquire` starts one).
        health_interval_s: seconds between health checks of the idle resources.
        name: shown in the thread name and `repr`.
    """

    def __init__(self, start: Callable[[], T], *, is_healthy: Callable[[T], bool], dispose: Callable[[T], None],
                 size: int = 2, health_interval_s: float = 1.0, name: str = "pool") -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be an integer >= 0, got {size!r}")
        if not health_interval_s > 0:
            raise ValueError(f"health_interval_s must be > 0, got {health_interval_s!r}")
        self._start, self._is_healthy, self._dispose = start, is_healthy, dispose
        self.size = size
        self.health_interval_s = health_interval_s
        self.name = name
        self._idle: list[T] = []
        self._num_starting = 0
        self._cond = threading.Condition()
        self.is_closed = False
        self.num_started = 0
        """Resources started, by the background thread or by `acquire` on a miss."""
        self.num_hits = 0
        """`acquire` calls served by a ready resource."""
        self.num_misses = 0
        """`acquire` calls that had to start one."""
        self.num_replaced = 0
        """Idle resources found dead (by the health check or at hand-out) and replaced."""
        self.last_error: BaseException | None = None
        """The last exception the background thread got from `start` (it retries after `health_interval_s`)."""
        self._thread: threading.Thread | None = None
        if size > 0:
            self._thread = threading.Thread(target=_fill_forever, args=(weakref.ref(self),), daemon=True,
                                            name=f"agentgym-{name}-filler")
            self._thread.start()

    @property
    def num_idle(self) -> int:
        return len(self._idle)

    def acquire(self) -> T:
        """A healthy resource for exclusive use: a ready one if any (health-checked now), else a newly started one."""
        dead: list[T] = []
        try:
            with self._cond:
                self._check_open()
                while self._idle:
                    item = self._idle.pop(0)
                    if self._is_healthy(item):
                        self.num_hits += 1
                        self._cond.notify_all()  # wake the filler to start a replacement
                        return item
                    dead.append(item)
                    self.num_replaced += 1
                self.num_misses += 1
                self._cond.notify_all()
        finally:
            for item in dead:
                self._safe_dispose(item)
        item = self._start()
        with self._cond:
            self.num_started += 1
        return item

    def release(self, item: T) -> None:
        """Give back a resource handed out by `acquire`: it is disposed of (never handed out twice)."""
        self._safe_dispose(item)

    def check(self) -> int:
        """Health-check the idle resources now; dead ones are disposed of (the filler replaces them). Returns how many."""
        with self._cond:
            dead = [item for item in self._idle if not self._is_healthy(item)]
            self._idle = [item for item in self._idle if item not in dead]
            self.num_replaced += len(dead)
            if dead:
                self._cond.notify_all()
        for item in dead:
            self._safe_dispose(item)
        return len(dead)

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """Block until `size` resources are ready (or `timeout_s` passed); returns whether they are."""
        with self._cond:
            return self._cond.wait_for(lambda: self.is_closed or len(self._idle) >= self.size, timeout=timeout_s) \
                and not self.is_closed

    def close(self) -> None:
        """Stop the background thread and dispose of every idle resource. Idempotent."""
        with self._cond:
            if self.is_closed:
                return
            self.is_closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for item in idle:
            self._safe_dispose(item)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    # -- the background filler ----------------------------------------------------------------------------------------
    def _fill_once(self) -> bool:
        """Start one resource if fewer than `size` are ready or starting; returns False once the pool is closed."""
        with self._cond:
            if self.is_closed:
                return False
            if len(self._idle) + self._num_starting >= self.size:
                self._cond.wait(timeout=self.health_interval_s)
                needs_check = True
            else:
                self._num_starting += 1
                needs_check = False
        if needs_check:
            self.check()
            return not self.is_closed
        try:
            item = self._start()
        except Exception as e:  # noqa: BLE001 - kept for the caller; acquire() will start (and raise) itself
            with self._cond:
                self._num_starting -= 1
                self.last_error = e
                self._cond.wait(timeout=self.health_interval_s)
            return not self.is_closed
        with self._cond:
            self._num_starting -= 1
            self.num_started += 1
            if not self.is_closed:
                self._idle.append(item)
                self._cond.notify_all()
                return True
        self._safe_dispose(item)
        return False

    def _safe_dispose(self, item: T) -> None:
        with contextlib.suppress(Exception):
            self._dispose(item)

    def _check_open(self) -> None:
        if self.is_closed:
            raise SandboxClosed(f"this {self.name} pool is closed")

    def __enter__(self) -> WarmPool[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"WarmPool({self.name}, size={self.size}, idle={self.num_idle}, hits={self.num_hits}, "
                f"misses={self.num_misses}, replaced={self.num_replaced}, closed={self.is_closed})")


def _fill_forever(ref: weakref.ref) -> None:
    """The filler loop; holds the pool only weakly between rounds, so a dropped pool is collected and stops."""
    while True:
        pool = ref()
        if pool is None or not pool._fill_once():
            return
        del pool


class SandboxPool(WarmPool[LocalSandbox]):
    """`size` fresh `LocalSandbox`es of one config, ready before they are needed (uid leased, workdir created).

    A sandbox counts as healthy while it is open and its working directory exists.
    """

    def __init__(self, config: SandboxConfig | None = None, *, size: int = 2, health_interval_s: float = 1.0) -> None:
        self.config = config if config is not None else SandboxConfig()
        super().__init__(lambda: LocalSandbox(self.config), is_healthy=_sandbox_is_healthy, dispose=LocalSandbox.close,
                         size=size, health_interval_s=health_interval_s, name="sandbox")


def _sandbox_is_healthy(box: LocalSandbox) -> bool:
    return not box.is_closed and os.path.isdir(box.workdir)


class SharedPools(Generic[P]):
    """Process-wide pools by key: each made on first use, remade once closed, all closed at interpreter exit.

    Envs built without an explicit pool share one this way, so constructing many envs (as `check_env` does) reuses
    warm resources instead of starting a pool per env.
    """

    def __init__(self) -> None:
        self._pools: dict[object, P] = {}
        self._lock = threading.Lock()
        atexit.register(self.close_all)

    def get(self, key: object, make: Callable[[], P]) -> P:
        with self._lock:
            pool = self._pools.get(key)
            if pool is None or pool.is_closed:
                pool = self._pools[key] = make()
            return pool

    def close_all(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()


_SHARED_SANDBOX_POOLS: SharedPools[SandboxPool] = SharedPools()
close_shared_sandbox_pools = _SHARED_SANDBOX_POOLS.close_all


def shared_sandbox_pool(config: SandboxConfig | None = None, *, size: int = 2) -> SandboxPool:
    """The process-wide `SandboxPool` for `(config, size)`, made on first use and closed at interpreter exit."""
    config = config if config is not None else SandboxConfig()
    # a config holds a dict (env), so it is keyed by its full repr
    return _SHARED_SANDBOX_POOLS.get((repr(config), size), lambda: SandboxPool(config, size=size))


__all__ = ["SandboxPool", "SharedPools", "WarmPool", "close_shared_sandbox_pools", "shared_sandbox_pool"]
