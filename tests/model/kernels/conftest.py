"""Kernel-test setup: on machines without CUDA, Triton kernels run in the CPU interpreter (TRITON_INTERPRET=1).

Triton decides interpreter-or-compiler when its own ``triton.language`` helpers are decorated, i.e. when triton is
first imported, so the variable is set here, at collection time, before any test runs. It is set only where no CUDA
device exists: there the interpreter is the only way any Triton code can run, so no other test in the session loses
anything. With a GPU the variable is left alone and the same tests run the compiled kernels on CUDA tensors.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch

HAS_CUDA = torch.cuda.is_available()
TRITON_ALREADY_IMPORTED = "triton" in sys.modules
if not HAS_CUDA and not TRITON_ALREADY_IMPORTED:
    os.environ.setdefault("TRITON_INTERPRET", "1")

DEVICE = torch.device("cuda" if HAS_CUDA else "cpu")


@pytest.fixture(scope="module")
def triton_interpreter():
    """Make sure Triton kernels can run here: compiled on CUDA, or interpreted on CPU."""
    triton = pytest.importorskip("triton", reason="the Triton path tests need `pip install 'agentgym-rl[triton]'`")
    if not HAS_CUDA and not triton.knobs.runtime.interpret:
        pytest.fail("triton was imported before tests/model/kernels/conftest.py could set TRITON_INTERPRET=1; "
                    "run with TRITON_INTERPRET=1 in the environment")
    return triton
