"""Rollout backends: where the trainer's episodes are generated, and how new weights reach that place.

The trainer talks to one `RolloutBackend`: it plays episodes with `backend.policy`, calls
`backend.sync_weights(model, version)` after each update step (so an engine outside the trainer samples from the new
weights, stamped `version`), and `backend.close()` at the end. Three backends ship:

- `engine` (default): the embedded engine in the trainer process; it shares the model's tensors, so a sync only stamps
  the version.
- `vllm`: a vLLM server (OpenAI-compatible, token ids in and out) or an offline `vllm.LLM`; a sync writes the weights as
  HF-named safetensors and asks vLLM to reload them (`agentgym.rl.vllm_backend`).
- `ray`: envs (and, for a policy that can travel, whole episodes) on Ray actors (`agentgym.rl.ray_backend`).

Anything with these three members works (an async pipeline, a custom inference service). The factory that picks one
from the config is `agentgym.rl.backend_factory.build_backend`: it imports the backends, never the other way round.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from agentgym.rl.config import TrainConfig


@runtime_checkable
class RolloutBackend(Protocol):
    """Where rollouts run. `policy` is a `agentgym.rollout.Policy`; `sync_weights` takes the trained `nn.Module` or its
    state dict (our parameter names) and the policy version the new weights stand for."""

    policy: Any

    def sync_weights(self, weights: Any, version: int) -> None: ...

    def close(self) -> None: ...


def state_dict_of(weights: Any) -> dict[str, Any]:
    """The state dict of a module (unwrapping DDP's `.module`) or the dict itself, detached and contiguous."""
    module = getattr(weights, "module", weights)
    state = module.state_dict() if hasattr(module, "state_dict") else dict(weights)
    return {k: v.detach().contiguous() for k, v in state.items()}


class EngineBackend:
    """The embedded engine in this process. It reads the trainer's own parameters, so a sync has nothing to copy."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.version = 0

    def before_update(self) -> None:
        """Free the engine's packed weight copies the update is about to make stale (rebuilt at the next collect):
        they would otherwise sit in memory through the update, the trainer's peak."""
        self.policy.engine.release_packs()

    def sync_weights(self, weights: Any, version: int) -> None:
        self.version = version
        self.policy.policy_version = version

    def close(self) -> None:
        pass


class PolicyBackend:
    """Wrap any `Policy` (scripted, OpenAI endpoint) that has no weights to receive: a sync only records the version."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.version = 0

    def sync_weights(self, weights: Any, version: int) -> None:
        self.version = version
        if hasattr(self.policy, "policy_version"):
            self.policy.policy_version = version

    def close(self) -> None:
        close = getattr(self.policy, "close", None)
        if callable(close):
            close()


def engine_backend(config: TrainConfig, model: Any, tokenizer: Any) -> EngineBackend:
    """The default: an `EnginePolicy` over an `Engine` on the trainer's model."""
    from agentgym.model import Engine, EngineConfig
    from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig

    s = config.sampling
    engine = Engine(model, tokenizer, EngineConfig(max_batch_size=config.model.max_batch,
                                                   max_seq_len=config.model.max_seq_len,
                                                   pack_weights=config.memory.engine_packed_weights,
                                                   pack_dtype=config.model.compute_dtype or "float32"))
    return EngineBackend(EnginePolicy(engine, EnginePolicyConfig(
        temperature=s.temperature, top_p=s.top_p, top_k=s.top_k, max_new_tokens=s.max_new_tokens,
        max_batch=config.model.max_batch, seed=config.seed, ignore_eos=s.ignore_eos)))
