"""Custom kernels: pure-PyTorch references, CPU paths, Triton paths and a dispatcher (imports only torch)."""

from __future__ import annotations

from .errors import KernelPathError, TritonNotInstalled
from .grpo_config import GRPOLossConfig, GRPOLossOutput
from .dispatch import grpo_loss, linear_grpo_loss, linear_logprob, mla_decode, moe_swiglu, resolve_path

__all__ = [
    "GRPOLossConfig",
    "GRPOLossOutput",
    "KernelPathError",
    "TritonNotInstalled",
    "grpo_loss",
    "linear_grpo_loss",
    "linear_logprob",
    "mla_decode",
    "moe_swiglu",
    "resolve_path",
]
