"""Warm sandboxed workers for the `general` env: started ahead of time so a fresh env's first reset does not wait.

Starting a worker (a sandboxed interpreter listening on a Unix socket) takes about 0.15 s here, far more than a tool
call. A `WarmPool` keeps `size` of them running; each env instance takes one at its first reset and disposes of it
when closed (a worker ran an episode's untrusted tools, so it is never handed to another env).
"""

from __future__ import annotations


from agentgym.envs.general.runtime import SandboxRuntime

from agentgym.sandbox import SandboxConfig, SharedPools, WarmPool


def started_runtime(config: SandboxConfig | None, call_timeout_s: float) -> SandboxRuntime:
    """A `SandboxRuntime` whose worker is already running."""
    runtime = SandboxRuntime(config, call_timeout_s=call_timeout_s)
    try:
        runtime.start()
    except BaseException:
        runtime.close()
        raise
    return runtime


_SHARED_POOLS: SharedPools[WarmPool[SandboxRuntime]] = SharedPools()
close_shared_runtime_pools = _SHARED_POOLS.close_all


def shared_runtime_pool(config: SandboxConfig | None, *, call_timeout_s: float, size: int) -> WarmPool[SandboxRuntime]:
    """The process-wide pool of started workers for `(config, call_timeout_s, size)`, closed at interpreter exit."""
    return _SHARED_POOLS.get(
        (repr(config), float(call_timeout_s), size),
        lambda: WarmPool(lambda: started_runtime(config, call_timeout_s), is_healthy=SandboxRuntime.is_alive.fget,
                         dispose=SandboxRuntime.close, size=size, name="general-worker"))
