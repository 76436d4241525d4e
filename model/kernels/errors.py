"""Errors raised by the kernel dispatcher; kept here because agentgym.model may not import agentgym."""

from __future__ import annotations

TRITON_INSTALL_COMMAND = "pip install 'agentgym-rl[triton]'"


class KernelPathError(ValueError):
    """An unknown kernel path was named, or the named path cannot run on these tensors."""


class TritonNotInstalled(ImportError):
    """The Triton path was asked for but the `triton` package is not importable."""

    def __init__(self) -> None:
        super().__init__(f"the triton kernel path needs the `triton` package; install it with: {TRITON_INSTALL_COMMAND}")
