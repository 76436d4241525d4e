"""`KernelPool`: warm sandboxed kernels handed to episodes and taken back, so an episode never waits for a start.

A kernel handed out is alive (checked at hand-out; a dead idle one is replaced); the env then calls `reset`, which
empties its namespace and working directory and runs a canary cell as a health check (restarting it if needed). A
kernel given back is kept warm while fewer than `size` are idle, else shut down. With `keep_warm`, a background thread
keeps `size` kernels started ahead of time: it tops the pool up after each hand-out and health-checks the idle kernels
every `health_interval_s`, replacing dead ones, so an episode almost never waits for a kernel to start. The pool is thread-safe and not tied to an event loop: several `asyncio.run` calls (as `check_env` makes) and
threads may share one. `close()` shuts every kernel down, including those still handed out.
"""

from __future__ import annotations

import threading
import time
import weakref

from agentgym.envs.jupyter.config import KernelConfig
from agentgym.envs.jupyter.kernel import KernelStartError, SandboxedKernel
from agentgym.sandbox import SharedPools


class PoolExhausted(KernelStartError):
    """Every one of `max_kernels` kernels stayed in use for `acquire`'s whole timeout."""


class KernelPool:
    """Warm kernels of one `KernelConfig`.

    Args:
        config: how each kernel is sandboxed.
        size: kernels kept warm when idle (and started by `warm_up()`).
        max_kernels: kernels alive at once (idle + in use); None for no bound. `acquire` waits for a free one.
        keep_warm: run a background thread that keeps `size` kernels started and replaces dead idle ones.
        health_interval_s: seconds between the background health checks of idle kernels.
    """

    def __init__(self, config: KernelConfig | None = None, *, size: int = 2, max_kernels: int | None = None,
                 keep_warm: bool = False, health_interval_s: float = 2.0) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be an integer >= 0, got {size!r}")
        if max_kernels is not None and (isinstance(max_kernels, bool) or not isinstance(max_kernels, int)
                                        or max_kernels < max(1, size)):  # fmt: skip
            raise ValueError(f"max_kernels must be None or an integer >= max(1, size)={max(1, size)}, "
                             f"got {max_kernels!r}")
        self.config = config if config is not None else KernelConfig()
        self.size = size
        self.max_kernels = max_kernels
        self._idle: list[SandboxedKernel] = []
        self._in_use: set[SandboxedKernel] = set()
        self._num_starting = 0
        self._cond = threading.Condition()
        self.num_started = 0
        self.num_replaced = 0
        """Idle kernels found dead (at hand-out or by the health check) and replaced."""
        self.last_error: BaseException | None = None
        """The last exception the `keep_warm` thread got while starting a kernel (it retries later)."""
        self.is_closed = False
        if not health_interval_s > 0:
            raise ValueError(f"health_interval_s must be > 0, got {health_interval_s!r}")
        self.health_interval_s = health_interval_s
        self._keeper: threading.Thread | None = None
        if keep_warm and size > 0:
            self._keeper = threading.Thread(target=_keep_warm, args=(weakref.ref(self),), daemon=True,
                                            name="agentgym-kernel-pool-keeper")
            self._keeper.start()

    @property
    def num_idle(self) -> int:
        return len(self._idle)

    @property
    def num_in_use(self) -> int:
        return len(self._in_use)

    def acquire(self, *, timeout_s: float = 60.0) -> SandboxedKernel:
        """A live kernel for exclusive use until `release`: a warm one if any, else a newly started one.

        Raises:
            KernelStartError: a new kernel did not start (PoolExhausted: none became free within `timeout_s`).
        """
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                self._check_open()
                while self._idle:
                    kernel = self._idle.pop()
                    if kernel.is_alive:
                        self._in_use.add(kernel)
                        self._cond.notify_all()  # the keeper starts a replacement
                        return kernel
                    self.num_replaced += 1
                    kernel.close()  # died while idle: replace it
                total = len(self._in_use) + self._num_starting
                if self.max_kernels is None or total < self.max_kernels:
                    self._num_starting += 1
                    break
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise PoolExhausted(f"all {self.max_kernels} kernels stayed in use for {timeout_s} s")
        try:
            kernel = SandboxedKernel(self.config)
        finally:
            with self._cond:
                self._num_starting -= 1
                self._cond.notify_all()
        with self._cond:
            self.num_started += 1
            if self.is_closed:
                kernel.close()
                self._check_open()
            self._in_use.add(kernel)
        return kernel

    def release(self, kernel: SandboxedKernel) -> None:
        """Take a kernel back: kept warm if alive and fewer than `size` are idle, else shut down."""
        with self._cond:
            self._in_use.discard(kernel)
            keep = not self.is_closed and kernel.is_alive and len(self._idle) < self.size
            if keep:
                self._idle.append(kernel)
            self._cond.notify_all()
        if not keep:
            kernel.close()

    def warm_up(self, num_kernels: int | None = None) -> None:
        """Start kernels until `num_kernels` (default `size`) are idle."""
        target = self.size if num_kernels is None else num_kernels
        started = [self.acquire() for _ in range(max(0, target - self.num_idle))]
        with self._cond:
            self._in_use.difference_update(started)
            self._idle.extend(started)
            self._cond.notify_all()

    def maintain(self) -> int:
        """Replace dead idle kernels and start kernels until `size` are idle (within `max_kernels`); returns how many
        it started. The `keep_warm` thread calls this; call it yourself for a pool without one."""
        with self._cond:
            dead = [k for k in self._idle if not k.is_alive]
            self._idle = [k for k in self._idle if k not in dead]
            self.num_replaced += len(dead)
        for kernel in dead:
            kernel.close()
        num_started = 0
        while True:
            with self._cond:
                total = len(self._idle) + len(self._in_use) + self._num_starting
                if (self.is_closed or len(self._idle) + self._num_starting >= self.size
                        or (self.max_kernels is not None and total >= self.max_kernels)):  # fmt: skip
                    return num_started
                self._num_starting += 1
            try:
                kernel = SandboxedKernel(self.config)
            finally:
                with self._cond:
                    self._num_starting -= 1
            with self._cond:
                self.num_started += 1
                num_started += 1
                if not self.is_closed:
                    self._idle.append(kernel)
                    self._cond.notify_all()
                    continue
            kernel.close()
            return num_started

    def close(self) -> None:
        """Shut down every kernel, idle or in use. Idempotent."""
        with self._cond:
            if self.is_closed:
                return
            self.is_closed = True
            kernels = [*self._idle, *self._in_use]
            self._idle.clear()
            self._in_use.clear()
            self._cond.notify_all()
        for kernel in kernels:
            kernel.close()
        if self._keeper is not None and self._keeper is not threading.current_thread():
            self._keeper.join(timeout=self.config.startup_timeout_s + 5)  # a kernel it was starting is closed too

    def _check_open(self) -> None:
        if self.is_closed:
            raise KernelStartError("this kernel pool is closed")

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KernelPool(size={self.size}, idle={self.num_idle}, in_use={self.num_in_use}, closed={self.is_closed})"


_SHARED_POOLS: SharedPools[KernelPool] = SharedPools()
close_shared_pools = _SHARED_POOLS.close_all
"""Shut down every shared pool's kernels (also runs at interpreter exit)."""


def _keep_warm(ref: weakref.ref) -> None:
    """The keeper loop: `maintain()`, then sleep until a hand-out or the next health check; holds the pool weakly."""
    while True:
        pool = ref()
        if pool is None or pool.is_closed:
            return
        try:
            pool.maintain()
        except Exception as e:  # noqa: BLE001 - a kernel that cannot start now: acquire() will try (and report) itself
            pool.last_error = e
        with pool._cond:
            if not pool.is_closed:
                pool._cond.wait(timeout=pool.health_interval_s)
        del pool


def shared_pool(config: KernelConfig | None = None, *, size: int = 2, keep_warm: bool = False) -> KernelPool:
    """The process-wide pool for `(config, size, keep_warm)`, created on first use and closed at interpreter exit.

    Envs built without an explicit pool share it, so constructing many envs (as `check_env` does) reuses warm kernels.
    """
    config = config if config is not None else KernelConfig()
    return _SHARED_POOLS.get((config, size, keep_warm), lambda: KernelPool(config, size=size, keep_warm=keep_warm))


__all__ = ["KernelPool", "PoolExhausted", "close_shared_pools", "shared_pool"]
