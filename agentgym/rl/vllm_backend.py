"""The vLLM rollout backend: episodes sampled by vLLM, new weights pushed to it after every update step.

Weight sync goes through disk, the route every vLLM deployment can take: the trainer writes the weights with HF names
(`agentgym.model.checkpoint.to_hf_state_dict`) to `weights_dir/model.safetensors` (written to a temporary file, then
renamed, so vLLM never reads a torn file) and asks vLLM to reload them in place:

- server, `reload: collective_rpc` (default): POST `/collective_rpc` with
  `{"method": "reload_weights", "kwargs": {"weights_path": weights_dir}}`, then POST `/reset_prefix_cache` so no KV
  computed with the old weights is reused. Both are vLLM dev endpoints: start the server with
  `VLLM_SERVER_DEV_MODE=1`. `reload_weights(weights_path=...)` is the V1 worker's in-place reload.
- server, `reload: reload_weights`: POST `/reload_weights` `{"weights_path": weights_dir}` (newer vLLM dev endpoint that
  wraps the same RPC and resets the prefix cache itself).
- offline: `llm.collective_rpc("reload_weights", kwargs={"weights_path": weights_dir})`, then
  `llm.reset_prefix_cache()`.

The file carries the policy version in its safetensors metadata (`agentgym_policy_version`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agentgym.errors import AgentGymError
from agentgym.rl.backends import state_dict_of
from agentgym.rl.config import ConfigError, TrainConfig
from agentgym.rollout.engine_policy import EnginePolicyConfig
from agentgym.rollout.vllm_policy import VLLMOfflinePolicy, VLLMServerPolicy, post_json

WEIGHTS_FILE = "model.safetensors"


class WeightSyncError(AgentGymError, ConnectionError):
    """vLLM did not take the new weights (server down, or started without the dev endpoints)."""


def write_hf_weights(weights: Any, weights_dir: str | Path, *, version: int, model_config: Any = None) -> Path:
    """Write `weights` (a module or our-names state dict) as HF-named safetensors; returns the file's path."""
    from safetensors.torch import save_file

    from agentgym.model.checkpoint import to_hf_state_dict

    cfg = model_config if model_config is not None else getattr(getattr(weights, "module", weights), "cfg", None)
    if cfg is None:
        raise ValueError("write_hf_weights: pass a model, or model_config with a state dict")
    state = to_hf_state_dict(state_dict_of(weights), cfg)
    folder = Path(weights_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WEIGHTS_FILE
    partial = folder / f".{WEIGHTS_FILE}.partial"
    save_file({k: v.contiguous() for k, v in state.items()}, str(partial),
              metadata={"agentgym_policy_version": str(version)})
    os.replace(partial, path)
    return path


class VLLMBackend:
    """A `RolloutBackend` over a `VLLMServerPolicy` or `VLLMOfflinePolicy`.

    Args:
        policy: the vLLM policy the trainer samples with.
        weights_dir: the folder written at every sync (it must be readable by the vLLM server).
        reload: "collective_rpc", "reload_weights" or "none" (server mode; see the module docstring).
        model_config: the model's `ModelConfig`, for syncs that pass a state dict rather than the module.
        is_writer: write and reload the weights (False on torchrun ranks other than 0: one server, one writer; the
            trainer's barrier after the sync keeps those ranks from sampling before the reload).
    """

    def __init__(self, policy: Any, *, weights_dir: str | Path, reload: str = "collective_rpc",
                 model_config: Any = None, timeout_s: float = 300.0, is_writer: bool = True) -> None:
        if reload not in ("collective_rpc", "reload_weights", "none"):
            raise ValueError(f"reload must be collective_rpc, reload_weights or none, got {reload!r}")
        self.policy = policy
        self.weights_dir = Path(weights_dir)
        self.reload = reload
        self.model_config = model_config
        self.timeout_s = timeout_s
        self.is_writer = is_writer
        self.version = 0

    @property
    def server_root(self) -> str:
        """The server's address without the OpenAI `/v1` suffix (where the dev endpoints live)."""
        url = self.policy.base_url
        return url.removesuffix("/v1")

    def sync_weights(self, weights: Any, version: int) -> None:
        self.version = version
        self.policy.policy_version = version
        if not self.is_writer:
            return
        write_hf_weights(weights, self.weights_dir, version=version, model_config=self.model_config)
        path = str(self.weights_dir.resolve())
        if isinstance(self.policy, VLLMOfflinePolicy):
            self.policy.llm.collective_rpc("reload_weights", kwargs={"weights_path": path})
            self.policy.llm.reset_prefix_cache()
        elif self.reload != "none":
            try:
                self._reload_server(path)
            except ConnectionError as e:
                raise WeightSyncError(f"weight sync to the vLLM server failed ({e}); start it with "
                                      f"VLLM_SERVER_DEV_MODE=1 (see docs/scaling.md)") from None

    def _reload_server(self, path: str) -> None:
        key = {"api_key": self.policy.api_key, "timeout_s": self.timeout_s}
        if self.reload == "collective_rpc":
            post_json(f"{self.server_root}/collective_rpc",
                      {"method": "reload_weights", "kwargs": {"weights_path": path}}, **key)
            post_json(f"{self.server_root}/reset_prefix_cache", None, **key)
        else:
            post_json(f"{self.server_root}/reload_weights", {"weights_path": path}, **key)

    def close(self) -> None:
        pass


def vllm_backend(config: TrainConfig, tokenizer: Any) -> VLLMBackend:
    """The backend of a config's `rollout.vllm` section (sampling settings from `sampling`)."""
    v, s = config.rollout.vllm, config.sampling
    sampling = EnginePolicyConfig(temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                                  max_new_tokens=s.max_new_tokens, max_batch=v.max_concurrent_requests,
                                  seed=config.seed, ignore_eos=s.ignore_eos)
    if v.mode == "offline":
        if not v.model:
            raise ConfigError("rollout.vllm.model: the offline vLLM backend needs the model path")
        policy: Any = VLLMOfflinePolicy(tokenizer, model=v.model, config=sampling,
                                        llm_kwargs={"enable_return_routed_experts": True}
                                        if v.request_routed_experts else None)
    else:
        if not v.model:
            raise ConfigError("rollout.vllm.model: name the served model (the `vllm serve` argument)")
        policy = VLLMServerPolicy(tokenizer, base_url=v.base_url, model=v.model, api_key=v.api_key, config=sampling,
                                  request_routed_experts=v.request_routed_experts, timeout_s=v.timeout_s)
    weights_dir = v.weights_dir or str(Path(config.out_dir) / "vllm_weights")
    return VLLMBackend(policy, weights_dir=weights_dir, reload=v.reload, timeout_s=v.timeout_s,
                       is_writer=os.environ.get("RANK", "0") == "0")  # under torchrun, rank 0 syncs the server
