"""Fixtures for the jupyter env tests: one session-wide pool of warm kernels with short timeouts, shared by all."""

from __future__ import annotations

import pytest

from agentgym.envs.jupyter import KernelConfig, KernelPool

FAST = KernelConfig(cell_timeout_s=3.0, interrupt_grace_s=1.0)  # generous enough for a loaded 2-core machine


@pytest.fixture(scope="session")
def jupyter_pool():
    """Two warm kernels reused by every test (a kernel starts in about a second)."""
    with KernelPool(FAST, size=2) as pool:
        yield pool
