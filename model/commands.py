"""Plain functions behind `agentgym generate` and `agentgym model info` (the CLI wires them; no typer here)."""

from __future__ import annotations

from collections.abc import Iterator

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
    """Names `model_info` accepts (`generate_stream` accepts only pretrained ones: smollm2-135m)."""
    return sorted(PRESETS)


def generate_stream(prompt: str, model: str = "smollm2-135m", *, max_new_tokens: int | None = None,
                    temperature: float = 0.7, top_p: float = 0.9, top_k: int = 0, seed: int | None = None,
                    chat: bool = True, num_threads: int | None = None) -> Iterator[str]:
    """Yield text pieces of one completion as they are sampled.

    With `chat=True` the prompt is sent as one user message through the model's ChatML template; the stream
    stops at the end-of-turn token, which is not yielded. Loading SmolLM2 takes a few seconds on CPU.
    `max_new_tokens=None` takes `SamplingParams`' default.
    """
    import torch

    from .engine import Engine, EngineConfig
    from .pretrained import load_pretrained
    from .sampling_params import DEFAULT_MAX_NEW_TOKENS, SamplingParams

    if num_threads:
        torch.set_num_threads(num_threads)
    max_new_tokens = DEFAULT_MAX_NEW_TOKENS if max_new_tokens is None else max_new_tokens
    net, tokenizer = load_pretrained(model)
    ids = tokenizer.encode_chat([{"role": "user", "content": prompt}]) if chat else tokenizer.encode(prompt)
    engine = Engine(net, tokenizer, EngineConfig(max_batch_size=1, max_seq_len=len(ids) + max_new_tokens + 1))
    params = SamplingParams(temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens,
                            seed=seed)
    yield from stream_text(engine.stream(ids, params), tokenizer)


def stream_text(token_ids: Iterator[int], tokenizer) -> Iterator[str]:
    """Turn a token stream into text pieces, holding back bytes of unfinished UTF-8 characters."""
    ids: list[int] = []
    emitted = ""
    for token in token_ids:
        if token in tokenizer.stop_ids:
            break
        ids.append(token)
        text = tokenizer.decode(ids)
        if text.endswith("\ufffd"):
            continue
        if len(text) > len(emitted):
            yield text[len(emitted):]
            emitted = text
