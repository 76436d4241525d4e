"""`model_info`: a preset's parameter counts and cache bytes per token, no weights loaded (`agentgym model info`)."""

from __future__ import annotations

from .config import PRESETS, cache_bytes_per_token, count_parameters, get_preset


def model_info(name: str) -> dict:
    """Parameter counts and cache bytes per token of a preset (no weights are loaded).

    Returns a flat dict: name, attn_type, total_params, active_params, mtp_params, cache_bytes_per_token_fp32,
    cache_bytes_per_token_bf16, and for MLA models cache_bytes_per_token_naive_fp32 (the expanded K/V layout).
    Raises ValueError listing the presets for an unknown name.
    """
    cfg = get_preset(name)
    counts = count_parameters(cfg)
    info = {"name": name, "attn_type": cfg.attn_type, "total_params": counts.total, "active_params": counts.active,
            "mtp_params": counts.mtp, "cache_bytes_per_token_fp32": cache_bytes_per_token(cfg, 4),
            "cache_bytes_per_token_bf16": cache_bytes_per_token(cfg, 2)}
    if cfg.attn_type == "mla":
        info["cache_bytes_per_token_naive_fp32"] = cache_bytes_per_token(cfg, 4, attn_impl="naive")
    return info


def list_models() -> list[str]:
    """Names `model_info` accepts (`generate.generate_stream` accepts only pretrained ones: smollm2-135m)."""
    return sorted(PRESETS)
