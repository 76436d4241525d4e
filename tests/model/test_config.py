"""ModelConfig validation, presets, HF aliases and the analytic parameter counter."""

from __future__ import annotations

import pytest
from agentgym.model.config import ModelConfig, cache_bytes_per_token, count_parameters, get_preset
from agentgym.model.transformer import Transformer


def test_deepseek_v3_counts_match_published_sizes():
    counts = count_parameters(get_preset("deepseek-v3"))
    assert round(counts.total / 1e9, 1) == 671.0
    assert 36.5e9 < counts.active < 38e9  # README: 37B activated (36.7B without embeddings/head)
    assert round(counts.mtp / 1e9, 1) == 11.6  # README_WEIGHTS: 11.5B unique MTP parameters


def test_deepseek_v3_latent_cache_is_68_6_kib_per_token_in_bf16():
    cfg = get_preset("deepseek-v3")
    assert cache_bytes_per_token(cfg, 2) == 61 * 576 * 2
    assert cache_bytes_per_token(cfg, 2, attn_impl="naive") == 61 * 128 * (192 + 128) * 2


@pytest.mark.parametrize("name", ["tiny", "small", "smollm2-135m"])
def test_counter_equals_instantiated_parameters(name):
    cfg = get_preset(name)
    if name == "smollm2-135m":
        cfg = cfg.replace(max_seq_len=64)
    model = Transformer(cfg)
    mtp = sum(p.numel() for p in model.mtp.parameters())
    counts = count_parameters(cfg)
    assert sum(p.numel() for p in model.parameters()) - mtp == counts.total
    assert mtp == counts.mtp


def test_smollm2_preset_is_135m_with_45_kib_cache():
    counts = count_parameters(get_preset("smollm2-135m"))
    assert counts.total == 134_515_008 and counts.active == counts.total
    assert counts.cache_bytes_per_token == 30 * 2 * 3 * 64 * 4


def test_tiny_is_moe_with_two_of_eight_experts_active():
    counts = count_parameters(get_preset("tiny"))
    cfg = get_preset("tiny")
    inactive = cfg.n_routed_experts - cfg.n_activated_experts
    assert counts.total - counts.active == inactive * 3 * cfg.dim * cfg.moe_inter_dim


@pytest.mark.parametrize("field,value", [("dim", 0), ("attn_impl", "flash"), ("moe_backend", "magic"),
                                         ("n_limited_groups", 3), ("n_activated_experts", 9), ("n_dense_layers", 5)])
def test_invalid_fields_raise_value_error_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        get_preset("tiny").replace(**{field: value})


def test_from_dict_accepts_hf_names():
    cfg = ModelConfig.from_dict({"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                                 "intermediate_size": 128, "n_routed_experts": 8, "num_experts_per_tok": 2,
                                 "n_group": 2, "topk_group": 1, "routed_scaling_factor": 2.5,
                                 "first_k_dense_replace": 1, "model_type": "deepseek_v3"})
    assert (cfg.dim, cfg.n_layers, cfg.n_activated_experts, cfg.route_scale, cfg.n_dense_layers) == (64, 2, 2, 2.5, 1)
    llama = ModelConfig.from_dict({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                                   "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96})
    assert llama.attn_type == "gqa" and llama.kv_heads == 2 and llama.n_routed_experts == 0
    with pytest.raises(ValueError, match="bogus"):
        ModelConfig.from_dict({"bogus": 1})


def test_unknown_preset_lists_known_ones():
    with pytest.raises(ValueError, match="tiny"):
        get_preset("huge")
