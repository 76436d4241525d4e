"""HF `config.json` <-> ModelConfig for the families we run: Llama, Mistral, Qwen2/2.5, Qwen3 (GQA) and DeepSeek-V3
(MLA + MoE). Anything these families do that our transformer does not is refused with one line, never dropped."""

from __future__ import annotations

from typing import Any

from .config import ModelConfig

GQA_FAMILIES = ("llama", "mistral", "qwen2", "qwen3")
SUPPORTED = (*GQA_FAMILIES, "deepseek_v3")
SUPPORTED_LINE = ("supported model_type values: llama, mistral, qwen2 (Qwen2/2.5), qwen3, deepseek_v3 "
                  "(DeepSeek-V3-style MLA/MoE)")


class UnsupportedHFConfig(ValueError):
    """The folder's config.json asks for something our transformer cannot run."""


def _refuse(model_type: str, what: str) -> UnsupportedHFConfig:
    return UnsupportedHFConfig(f"HF config ({model_type}): {what} is not supported; {SUPPORTED_LINE}")


def _rope_fields(hf: dict[str, Any], model_type: str) -> dict[str, Any]:
    """rope_theta and scaling from `rope_parameters` (transformers >= 5) or `rope_theta` + `rope_scaling` (older)."""
    params = dict(hf.get("rope_parameters") or {})
    scaling = dict(hf.get("rope_scaling") or {})
    theta = params.get("rope_theta", hf.get("rope_theta", 10000.0))
    params = {**scaling, **params}
    kind = params.get("rope_type", params.get("type", "default"))
    out: dict[str, Any] = {"rope_theta": float(theta)}
    if kind == "default":
        return out
    factor = float(params.get("factor", 1.0))
    original = int(params.get("original_max_position_embeddings", hf.get("max_position_embeddings", 4096)))
    if kind == "linear":
        return {**out, "rope_type": "linear", "rope_factor": factor}
    if kind == "llama3":
        return {**out, "rope_type": "llama3", "rope_factor": factor, "original_seq_len": original,
                "rope_low_freq_factor": float(params.get("low_freq_factor", 1.0)),
                "rope_high_freq_factor": float(params.get("high_freq_factor", 4.0))}
    raise _refuse(model_type, f"rope scaling {kind!r} (we run default, linear and llama3)")


def _max_seq_len(hf: dict[str, Any], model_type: str, max_seq_len: int | None) -> int:
    """Positions to hold: the config's, capped at an active sliding window (full attention over at most `window`
    tokens equals windowed attention, so the cap keeps us exact) and at `max_seq_len` when given."""
    length = int(hf.get("max_position_embeddings", 4096))
    window = hf.get("sliding_window")
    if model_type in ("qwen2", "qwen3") and not hf.get("use_sliding_window", False):
        window = None
    if window:
        length = min(length, int(window))
    return min(length, max_seq_len) if max_seq_len else length


def _check_common(hf: dict[str, Any], model_type: str) -> None:
    if hf.get("hidden_act", "silu") != "silu":
        raise _refuse(model_type, f"hidden_act {hf['hidden_act']!r} (SwiGLU with silu only)")
    if hf.get("mlp_bias"):
        raise _refuse(model_type, "mlp_bias=true")
    if hf.get("quantization_config"):
        method = hf["quantization_config"].get("quant_method", "?")
        raise _refuse(model_type, f"quantized weights (quantization_config {method!r}; dequantize to bf16/fp32 first)")


def config_from_hf(hf: dict[str, Any], *, num_mtp_layers: int = 0, max_seq_len: int | None = None) -> ModelConfig:
    """ModelConfig of an HF `config.json` dict.

    Args:
        hf: the parsed config.json.
        num_mtp_layers: DeepSeek-V3 MTP layers present in the weights (HF does not build them; we do when present).
        max_seq_len: cap on the positions (RoPE tables and caches); None keeps the config's.

    Raises:
        UnsupportedHFConfig: an unknown model_type or a feature we do not run, naming it and the supported families.
    """
    model_type = hf.get("model_type", "")
    if model_type not in SUPPORTED:
        raise UnsupportedHFConfig(f"HF config: model_type {model_type!r} is not supported; {SUPPORTED_LINE}")
    _check_common(hf, model_type)
    dim, n_heads, n_layers = int(hf["hidden_size"]), int(hf["num_attention_heads"]), int(hf["num_hidden_layers"])
    common = dict(vocab_size=int(hf["vocab_size"]), dim=dim, inter_dim=int(hf["intermediate_size"]),
                  n_layers=n_layers, n_heads=n_heads, norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
                  tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
                  max_seq_len=_max_seq_len(hf, model_type, max_seq_len), **_rope_fields(hf, model_type))
    if model_type in GQA_FAMILIES:
        bias = bool(hf.get("attention_bias", False))
        return ModelConfig(**common, attn_type="gqa", n_dense_layers=n_layers, n_routed_experts=0,
                           n_kv_heads=int(hf.get("num_key_value_heads") or n_heads),
                           head_dim=int(hf.get("head_dim") or dim // n_heads),
                           qkv_bias=bias or model_type == "qwen2", o_bias=bias and model_type != "qwen2",
                           qk_norm=model_type == "qwen3")
    return _deepseek_config(hf, common, num_mtp_layers)


def _deepseek_config(hf: dict[str, Any], common: dict[str, Any], num_mtp_layers: int) -> ModelConfig:
    if "rope_type" in common:
        raise _refuse("deepseek_v3", f"rope scaling {common['rope_type']!r} (we load DeepSeek-V3 with default rope)")
    if not hf.get("rope_interleave", True):
        raise _refuse("deepseek_v3", "rope_interleave=false")
    if not hf.get("norm_topk_prob", True):
        raise _refuse("deepseek_v3", "norm_topk_prob=false")
    if hf.get("scoring_func", "sigmoid") != "sigmoid" or hf.get("topk_method", "noaux_tc") != "noaux_tc":
        raise _refuse("deepseek_v3", "routing other than sigmoid scores with noaux_tc top-k")
    if hf.get("attention_bias"):
        raise _refuse("deepseek_v3", "attention_bias=true")
    experts = int(hf.get("n_routed_experts") or 0)
    return ModelConfig(
        **common, attn_type="mla", q_lora_rank=int(hf.get("q_lora_rank") or 0), kv_lora_rank=int(hf["kv_lora_rank"]),
        qk_nope_head_dim=int(hf["qk_nope_head_dim"]), qk_rope_head_dim=int(hf["qk_rope_head_dim"]),
        v_head_dim=int(hf["v_head_dim"]), moe_inter_dim=int(hf["moe_intermediate_size"]), n_routed_experts=experts,
        n_dense_layers=min(int(hf.get("first_k_dense_replace", 0)), common["n_layers"]) if experts else
        common["n_layers"], n_shared_experts=int(hf.get("n_shared_experts") or 0),
        n_activated_experts=int(hf.get("num_experts_per_tok", 1)), n_expert_groups=int(hf.get("n_group", 1)),
        n_limited_groups=int(hf.get("topk_group", 1)), route_scale=float(hf.get("routed_scaling_factor", 1.0)),
        score_func="sigmoid", use_expert_bias=True, n_mtp_layers=num_mtp_layers, index_n_heads=0)


def hf_model_type(cfg: ModelConfig) -> str:
    """The HF family a config exports as: deepseek_v3 (MLA), qwen3 (q/k norm), qwen2 (q/k/v bias only), else llama."""
    if cfg.attn_type == "mla":
        return "deepseek_v3"
    if cfg.qk_norm:
        return "qwen3"
    if cfg.qkv_bias and not cfg.o_bias:
        return "qwen2"
    return "llama"


_ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM",
                  "deepseek_v3": "DeepseekV3ForCausalLM"}


def config_to_hf(cfg: ModelConfig, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """An HF config.json dict for `cfg` (the inverse of `config_from_hf`); `extra` adds e.g. bos/eos token ids."""
    model_type = hf_model_type(cfg)
    if cfg.index_n_heads:
        raise _refuse(model_type, "exporting the DSA indexer (DeepSeek-V3.2; HF DeepseekV3 has none)")
    if cfg.attn_type == "mla" and (cfg.score_func != "sigmoid" or cfg.rope_factor != 1.0):
        raise _refuse(model_type, "exporting softmax routing or YaRN rope")
    rope: dict[str, Any] = {"rope_theta": cfg.rope_theta, "rope_type": "default"}
    if cfg.rope_factor != 1.0:
        rope = {**rope, "rope_type": cfg.rope_type, "factor": cfg.rope_factor}
        if cfg.rope_type == "llama3":
            rope.update(low_freq_factor=cfg.rope_low_freq_factor, high_freq_factor=cfg.rope_high_freq_factor,
                        original_max_position_embeddings=cfg.original_seq_len)
    out: dict[str, Any] = {
        "architectures": [_ARCHITECTURES[model_type]], "model_type": model_type, "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.dim, "intermediate_size": cfg.inter_dim, "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads, "rms_norm_eps": cfg.norm_eps, "tie_word_embeddings": cfg.tie_embeddings,
        "max_position_embeddings": cfg.max_seq_len, "hidden_act": "silu", "rope_theta": cfg.rope_theta,
        "rope_parameters": rope, "dtype": "float32",
    }
    if cfg.attn_type == "gqa":
        out.update(num_key_value_heads=cfg.kv_heads, head_dim=cfg.head_size, attention_bias=cfg.o_bias)
    else:
        out.update(num_key_value_heads=cfg.n_heads, q_lora_rank=cfg.q_lora_rank or None,
                   kv_lora_rank=cfg.kv_lora_rank, qk_nope_head_dim=cfg.qk_nope_head_dim,
                   qk_rope_head_dim=cfg.qk_rope_head_dim, v_head_dim=cfg.v_head_dim,
                   moe_intermediate_size=cfg.moe_inter_dim, n_routed_experts=cfg.n_routed_experts,
                   n_shared_experts=cfg.n_shared_experts, num_experts_per_tok=cfg.n_activated_experts,
                   n_group=cfg.n_expert_groups, topk_group=cfg.n_limited_groups,
                   routed_scaling_factor=cfg.route_scale, first_k_dense_replace=cfg.n_dense_layers,
                   norm_topk_prob=True, rope_interleave=True, num_nextn_predict_layers=cfg.n_mtp_layers)
    return {**out, **(extra or {})}
