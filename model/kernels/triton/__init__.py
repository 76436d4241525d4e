"""Triton kernels (GPU, or CPU under TRITON_INTERPRET=1); each module imports triton, so import them only on demand."""

from __future__ import annotations
