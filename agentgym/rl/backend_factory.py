"""`build_backend`: the rollout backend a train config names (engine, vllm or ray).

The factory sits above the backends it chooses from (`backends`, `vllm_backend`, `ray_backend`), so none of them
imports it and the import graph stays one-way; the heavy ones are imported only when chosen.
"""

from __future__ import annotations

from typing import Any

from agentgym.rl.backends import RolloutBackend, engine_backend
from agentgym.rl.config import TrainConfig


def build_backend(config: TrainConfig, model: Any, tokenizer: Any) -> RolloutBackend:
    """The backend named by `config.rollout.backend` (heavy dependencies are imported only for the one chosen)."""
    kind = config.rollout.backend
    if kind == "engine":
        return engine_backend(config, model, tokenizer)
    if kind == "vllm":
        from agentgym.rl.vllm_backend import vllm_backend

        return vllm_backend(config, tokenizer)
    if kind == "ray":
        from agentgym.rl.ray_backend import ray_backend

        return ray_backend(config, model, tokenizer)
    raise ValueError(f"rollout.backend: unknown backend {kind!r}; expected engine, vllm or ray")
