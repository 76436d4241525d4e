"""safetensors checkpoints of our models, and the HF-name adapter for DeepseekV3 and Llama state dicts."""

from __future__ import annotations

import dataclasses
import json
import re

import torch

from .config import ModelConfig
from .transformer import Transformer

_ATTN = {"wq_a": "q_a_proj", "q_norm": "q_a_layernorm", "wq_b": "q_b_proj", "wkv_a": "kv_a_proj_with_mqa",
         "kv_norm": "kv_a_layernorm", "wkv_b": "kv_b_proj", "wo": "o_proj", "wq": "q_proj", "wk": "k_proj",
         "wv": "v_proj", "q_head_norm": "q_norm", "k_head_norm": "k_norm"}
_MLP = {"w1": "gate_proj", "w2": "down_proj", "w3": "up_proj"}
_EXPERT_W = {"w1": "gate_proj", "w2": "down_proj", "w3": "up_proj"}


def _safetensors():
    try:
        import safetensors.torch as st
    except ImportError as e:
        raise ImportError("checkpoints need the `safetensors` package: pip install 'agentgym-rl[model]'") from e
    return st


def save_checkpoint(model: Transformer, path: str) -> None:
    """Write the state dict (our names) and the config (as JSON metadata) to one .safetensors file."""
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    config = json.dumps(dataclasses.asdict(model.cfg))
    _safetensors().save_file(state, path, metadata={"agentgym_model_config": config})


def load_checkpoint(path: str, device: str = "cpu") -> Transformer:
    """Rebuild a model saved by `save_checkpoint` (eval mode)."""
    st = _safetensors()
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    if "agentgym_model_config" not in meta:
        raise ValueError(f"{path} has no agentgym_model_config metadata (not written by save_checkpoint)")
    model = Transformer(ModelConfig(**json.loads(meta["agentgym_model_config"])))
    model.load_state_dict(st.load_file(path, device=device))
    return model.eval()


def _block_to_hf(rest: str, prefix: str, value: torch.Tensor, out: dict[str, torch.Tensor]) -> None:
    """Map one block parameter (name relative to the block) into HF names under `prefix`."""
    parts = rest.split(".")
    if parts[0] == "attn_norm":
        out[f"{prefix}.input_layernorm.weight"] = value
    elif parts[0] == "ffn_norm":
        out[f"{prefix}.post_attention_layernorm.weight"] = value
    elif parts[0] == "attn" and parts[1] == "indexer":
        out[f"{prefix}.self_attn.indexer.{'.'.join(parts[2:])}"] = value
    elif parts[0] == "attn":
        out[f"{prefix}.self_attn.{_ATTN[parts[1]]}.{parts[2]}"] = value
    elif parts[1] in _MLP:
        out[f"{prefix}.mlp.{_MLP[parts[1]]}.weight"] = value
    elif parts[1] == "gate":
        name = "weight" if parts[2] == "weight" else "e_score_correction_bias"
        out[f"{prefix}.mlp.gate.{name}"] = value
    elif parts[1] == "shared":
        out[f"{prefix}.mlp.shared_experts.{_MLP[parts[2]]}.weight"] = value
    elif parts[1] == "experts":
        for e in range(value.shape[0]):
            out[f"{prefix}.mlp.experts.{e}.{_EXPERT_W[parts[2]]}.weight"] = value[e]
    else:
        raise ValueError(f"to_hf_state_dict: no HF name for block parameter {rest!r}")


def to_hf_state_dict(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Our names -> HF DeepseekV3ForCausalLM / LlamaForCausalLM names (MTP layers as model.layers.{L + d})."""
    out: dict[str, torch.Tensor] = {}
    for name, value in state.items():
        if name == "embed.weight":
            out["model.embed_tokens.weight"] = value
        elif name == "norm.weight":
            out["model.norm.weight"] = value
        elif name == "head.weight":
            out["lm_head.weight"] = value
        elif m := re.fullmatch(r"layers\.(\d+)\.(.+)", name):
            _block_to_hf(m.group(2), f"model.layers.{m.group(1)}", value, out)
        elif m := re.fullmatch(r"mtp\.(\d+)\.(.+)", name):
            prefix = f"model.layers.{cfg.n_layers + int(m.group(1))}"
            rest = m.group(2)
            if rest.startswith("block."):
                _block_to_hf(rest[len("block."):], prefix, value, out)
            elif rest == "norm.weight":
                out[f"{prefix}.shared_head.norm.weight"] = value
            else:
                out[f"{prefix}.{rest}"] = value
        else:
            raise ValueError(f"to_hf_state_dict: no HF name for {name!r}")
    return out


def from_hf_state_dict(hf_state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """HF names -> our names (the inverse of `to_hf_state_dict`); per-expert tensors are stacked."""
    reverse: dict[str, str] = {}
    with torch.device("meta"):  # names only
        template = Transformer(cfg)
    for name, value in template.state_dict().items():
        for hf_name in to_hf_state_dict({name: value}, cfg):
            reverse[hf_name] = name
    out: dict[str, torch.Tensor] = {}
    experts: dict[str, dict[int, torch.Tensor]] = {}
    for hf_name, value in hf_state.items():
        if hf_name not in reverse:
            if hf_name == "lm_head.weight" and cfg.tie_embeddings:
                continue
            raise ValueError(f"from_hf_state_dict: unexpected tensor {hf_name!r}")
        ours = reverse[hf_name]
        if m := re.search(r"\.experts\.(\d+)\.", hf_name):
            experts.setdefault(ours, {})[int(m.group(1))] = value
        else:
            out[ours] = value
    for ours, per_expert in experts.items():
        out[ours] = torch.stack([per_expert[e] for e in range(len(per_expert))])
    return out
