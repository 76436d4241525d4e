"""Warm sandboxed workers for the `general` env: started ahead of time so a fresh env's first reset does not wait.

Starting a worker (a sandboxed interpreter listening on a Unix socket) takes about 0.15 s here, far more than a tool
call. A `WarmPool` keeps `size` of them running; each env instance takes one at its first reset and disposes of it
when closed (a worker ran an episode's untrusted tools, so it is never handed to another env).
"""

from __future__ import annotations

import atexit
import threading

from agentgym.envs.general.runtime import SandboxRuntime

from agentgym.sandbox import SandboxConfig, WarmPool


def started_runtime(config: SandboxConfig | None, call_timeout_s: float) -> SandboxRuntime:
    """A `SandboxRuntime` whose worker is already running."""
    runtime = SandboxRuntime(config, call_timeout_s=call_timeout_s)
    try:
        runtime.start()
    except BaseException:
        runtime.close()
        raise
    return runtime


_SHARED: dict[tuple[str, float, int], WarmPool[SandboxRuntime]] = {}
_SHARED_LOCK = threading.Lock()


def shared_runtime_pool(config: SandboxConfig | None, *, call_timeout_s: float, size: int) -> WarmPool[SandboxRuntime]:
    """The process-wide pool of started workers for `(config, call_timeout_s, size)`, closed at interpreter exit."""
    key = (repr(config), float(call_timeout_s), size)
    with _SHARED_LOCK:
        pool = _SHARED.get(key)
        if pool is None or pool.is_closed:
            pool = _SHARED[key] = WarmPool(lambda: started_runtime(config, call_timeout_s),
                                           is_healthy=SandboxRuntime.is_alive.fget, dispose=SandboxRuntime.close,
                                           size=size, name="general-worker")
        return pool


@atexit.register
def close_shared_runtime_pools() -> None:
    with _SHARED_LOCK:
        pools = list(_SHARED.values())
        _SHARED.clear()
    for pool in pools:
        pool.close()
