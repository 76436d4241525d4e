"""Fixtures for the sandbox tests: a bubblewrap sandbox with small limits, and helpers to check the host afterwards."""

from __future__ import annotations

import os
import time

import pytest

from agentgym.sandbox import LocalSandbox, SandboxConfig, SandboxLimits
from agentgym.sandbox.config import GIB
from agentgym.sandbox.identity import pids_owned_by

SMALL_LIMITS = SandboxLimits(timeout_s=10, memory_bytes=1 * GIB, max_processes=32, max_output_bytes=64 * 1024)


def wait_until_no_processes(uid: int, timeout_s: float = 3.0) -> list[int]:
    """Live pids of `uid` left after up to `timeout_s` (an empty list is what every test expects)."""
    deadline = time.monotonic() + timeout_s
    while (left := pids_owned_by(uid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def num_host_processes() -> int:
    return sum(name.isdigit() for name in os.listdir("/proc"))


@pytest.fixture
def box():
    """A bubblewrap-isolated sandbox (the default isolation in CI, where .ci/run installs bubblewrap)."""
    with LocalSandbox(SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS)) as sandbox:
        yield sandbox


@pytest.fixture
def small_limits() -> SandboxLimits:
    return SMALL_LIMITS


@pytest.fixture
def bwrap_config() -> SandboxConfig:
    return SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS)


@pytest.fixture
def processes_left():
    """`processes_left(uid)`: live pids of `uid` after giving the kernel up to 3 s to tear them down."""
    return wait_until_no_processes
