"""safetensors checkpoints and the HF-name adapter."""

from __future__ import annotations

import pytest
import torch
from agentgym.model.checkpoint import from_hf_state_dict, load_checkpoint, save_checkpoint, to_hf_state_dict
from agentgym.model.config import get_preset
from agentgym.model.transformer import Transformer


def test_save_load_round_trip_keeps_weights_config_and_bias(tmp_path):
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny")).eval()
    model.layers[1].ffn.gate.bias.fill_(-0.25)
    path = str(tmp_path / "tiny.safetensors")
    save_checkpoint(model, path)
    loaded = load_checkpoint(path)
    assert loaded.cfg == model.cfg
    tokens = torch.randint(0, 512, (1, 9))
    with torch.no_grad():
        assert torch.equal(loaded(tokens).logits, model(tokens).logits)
    assert float(loaded.layers[1].ffn.gate.bias[0]) == -0.25


def test_load_rejects_foreign_safetensors(tmp_path):
    import safetensors.torch as st

    path = str(tmp_path / "x.safetensors")
    st.save_file({"w": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="agentgym_model_config"):
        load_checkpoint(path)


def test_hf_deepseek_names_round_trip():
    cfg = get_preset("tiny")
    state = Transformer(cfg).state_dict()
    hf = to_hf_state_dict(state, cfg)
    assert "model.layers.1.mlp.experts.7.gate_proj.weight" in hf
    assert "model.layers.1.mlp.gate.e_score_correction_bias" in hf
    assert "model.layers.0.self_attn.kv_a_proj_with_mqa.weight" in hf
    assert f"model.layers.{cfg.n_layers}.eh_proj.weight" in hf  # MTP layer after the main ones
    assert f"model.layers.{cfg.n_layers}.shared_head.norm.weight" in hf
    back = from_hf_state_dict(hf, cfg)
    assert back.keys() == state.keys()
    assert all(torch.equal(back[k], state[k]) for k in state)


def test_hf_llama_names_round_trip():
    cfg = get_preset("smollm2-135m").replace(n_layers=2, n_dense_layers=2, max_seq_len=32)
    state = Transformer(cfg).state_dict()
    hf = to_hf_state_dict(state, cfg)
    assert {"model.layers.0.self_attn.k_proj.weight", "model.layers.1.mlp.down_proj.weight",
            "model.embed_tokens.weight"} <= hf.keys() and "lm_head.weight" not in hf
    back = from_hf_state_dict(hf, cfg)
    assert all(torch.equal(back[k], state[k]) for k in state)
    with pytest.raises(ValueError, match="unexpected"):
        from_hf_state_dict({**hf, "model.layers.0.mystery": torch.zeros(1)}, cfg)
