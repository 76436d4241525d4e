"""The embedded transformer, loaders, tokenizer, rollout engine and kernels. Imports nothing else from agentgym.

The public names load on first access, so `import agentgym.model.info` (the CLI's `model info`) does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ModelConfig": "config", "get_preset": "config", "count_parameters": "config",
    "Transformer": "transformer", "Engine": "engine", "EngineConfig": "engine", "Completion": "engine",
    "SamplingParams": "sampling_params", "SamplingMask": "sampling", "masked_logprobs": "sampling",
    "Tokenizer": "tokenizer", "load_pretrained": "pretrained",
}
__all__ = ["Completion", "Engine", "EngineConfig", "ModelConfig", "SamplingMask", "SamplingParams", "Tokenizer",
           "Transformer", "count_parameters", "get_preset", "load_pretrained", "masked_logprobs"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
