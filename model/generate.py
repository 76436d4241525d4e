"""`generate_stream`: stream one completion of a pretrained model as text pieces (what `agentgym generate` prints)."""

from __future__ import annotations

from collections.abc import Iterator


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
