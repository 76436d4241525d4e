"""The `rollout:` section of a train config: which backend generates the episodes (engine, vLLM, Ray) and its knobs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VLLMSection(_Section):
    """A vLLM rollout engine (see docs/scaling.md for the server flags each option needs)."""

    mode: Literal["server", "offline"] = "server"
    """server: an OpenAI-compatible `vllm serve` at `base_url`; offline: a `vllm.LLM` in the trainer process (GPU)."""
    base_url: str = "http://127.0.0.1:8000/v1"
    """The server's OpenAI base URL (server mode)."""
    model: str = ""
    """The served model name (server mode; the `vllm serve` argument) or the model path (offline mode)."""
    api_key: str = "EMPTY"
    weights_dir: str | None = None
    """Where the trainer writes `model.safetensors` (HF names) for vLLM to reload; a directory both can read. None:
    OUT/vllm_weights."""
    reload: Literal["collective_rpc", "reload_weights", "none"] = "collective_rpc"
    """How the server is told to reload: POST /collective_rpc {"method": "reload_weights"} then /reset_prefix_cache
    (needs VLLM_SERVER_DEV_MODE=1), POST /reload_weights (newer vLLM dev endpoint), or none (weights only written)."""
    request_routed_experts: bool = False
    """Ask for the routed experts of every token (`return_routed_experts`; the server needs
    --enable-return-routed-experts)."""
    timeout_s: float = Field(300.0, gt=0)
    max_concurrent_requests: int = Field(64, ge=1)
    """Completion requests in flight at once (one request per episode turn)."""


class RaySection(_Section):
    """Ray actors for env workers and rollout workers."""

    address: str | None = None
    """An existing cluster ("auto", "ray://host:10001"); None starts a local one."""
    num_env_workers: int = Field(2, ge=1)
    """Actors hosting envs; the policy stays in the trainer (policy: engine)."""
    num_rollout_workers: int = Field(2, ge=1)
    """Actors playing whole episodes with their own copy of the policy (policy: vllm)."""
    policy: Literal["engine", "vllm"] = "engine"
    """engine: the trainer's embedded engine acts, envs run on env workers; vllm: rollout workers play whole episodes
    against the vLLM server of the `vllm:` section."""
    num_cpus: int | None = Field(None, ge=1)
    """CPUs of a locally started cluster (None: Ray's default)."""


class RolloutSection(_Section):
    """Where episodes are generated during training."""

    backend: Literal["engine", "vllm", "ray"] = "engine"
    """engine: the embedded engine in the trainer process; vllm: a vLLM server or offline engine with weight sync;
    ray: env / rollout workers as Ray actors."""
    vllm: VLLMSection = Field(default_factory=VLLMSection)
    ray: RaySection = Field(default_factory=RaySection)
