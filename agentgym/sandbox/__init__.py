"""Sandboxes that run untrusted code: LocalSandbox (rlimits, namespaces) and DockerSandbox.

Typical use::

    from agentgym.sandbox import LocalSandbox, SandboxConfig, SandboxLimits

    with LocalSandbox(SandboxConfig(limits=SandboxLimits(timeout_s=5))) as box:
        box.write_file("solution.py", code)
        result = box.run(["python3", "solution.py"])
        observation = result.summary() + "\\n" + result.stdout
"""

from agentgym.sandbox.config import GIB, KIB, MIB, SandboxConfig, SandboxLimits
from agentgym.sandbox.docker import DockerSandbox
from agentgym.sandbox.errors import (
    SandboxBusy,
    SandboxClosed,
    SandboxDependencyMissing,
    SandboxError,
    SandboxPathError,
    SandboxUnavailable,
)
from agentgym.sandbox.local import LocalSandbox, arun_once, run_once
from agentgym.sandbox.output import TRUNCATION_MARKER
from agentgym.sandbox.pool import SandboxPool, SharedPools, WarmPool, shared_sandbox_pool
from agentgym.sandbox.protocol import Sandbox, make_sandbox
from agentgym.sandbox.result import ExecResult

__all__ = [
    "GIB",
    "KIB",
    "MIB",
    "TRUNCATION_MARKER",
    "DockerSandbox",
    "ExecResult",
    "LocalSandbox",
    "Sandbox",
    "SandboxBusy",
    "SandboxClosed",
    "SandboxConfig",
    "SandboxDependencyMissing",
    "SandboxError",
    "SandboxLimits",
    "SandboxPathError",
    "SandboxPool",
    "SandboxUnavailable",
    "SharedPools",
    "WarmPool",
    "arun_once",
    "make_sandbox",
    "run_once",
    "shared_sandbox_pool",
]
