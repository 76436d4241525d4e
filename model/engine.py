"""Batched rollout engine: shared prefill, static-cache decode with slot refill, and what training must replay."""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from .kv_cache import Cache
from .layers import Linear, PackedWeights
from .sampling import SampleOutput, SamplingMask, SamplingParams, sample
from .tokenizer import Tokenizer
from .transformer import Transformer


@dataclass(kw_only=True, slots=True)
class EngineConfig:
    """Engine limits.

    Attributes:
        max_batch_size: rows decoded together (cache rows); a prompt's n samples must fit in it.
        max_seq_len: prompt + completion positions per row (default: min(model max_seq_len, 2048)).
        max_prefill_tokens: padded prompt tokens one prefill forward may take (bounds the logits/activations).
        record_routed_experts: record every token's expert ids in every MoE layer (Keep Routing).
        pack_weights: keep oneDNN-packed copies of the matmul weights for CPU fp32 decode (faster GEMMs for one
            extra copy of those weights in memory; repacked after the weights change).
        pack_dtype: "bfloat16" packs bf16 copies of the fp32 weights (half the copy's memory and half the bytes each
            decode step streams; matmul inputs rounded to bf16, fp32 accumulation: mixed precision). Falls back to
            "float32" where oneDNN has no bf16 GEMM.
    """

    max_batch_size: int = 16
    max_seq_len: int | None = None
    max_prefill_tokens: int = 4096
    record_routed_experts: bool = True
    pack_weights: bool = True
    pack_dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.pack_dtype not in ("float32", "bfloat16"):
            raise ValueError(f"EngineConfig.pack_dtype must be 'float32' or 'bfloat16', got {self.pack_dtype!r}")
        if self.max_batch_size < 1:
            raise ValueError(f"EngineConfig.max_batch_size must be >= 1, got {self.max_batch_size}")
        if self.max_seq_len is not None and self.max_seq_len < 2:
            raise ValueError(f"EngineConfig.max_seq_len must be >= 2, got {self.max_seq_len}")
        if self.max_prefill_tokens < 1:
            raise ValueError(f"EngineConfig.max_prefill_tokens must be >= 1, got {self.max_prefill_tokens}")


@dataclass(slots=True)
class Completion:
    """One sampled completion and everything a trainer needs to replay it exactly.

    Attributes:
        prompt_index, sample_index: which prompt (index into the input list) and which of its n samples.
        prompt_token_ids: the prompt.
        token_ids: generated ids, including a final stop token when one ended the completion.
        logprobs: log pi(token_t) under the sampling distribution (temperature, top-k, top-p renormalized).
        sampling_mask: each position's top-k/top-p support (see SamplingMask).
        routed_experts: (len(prompt) + len(token_ids) - 1, n_moe_layers, k) int16 expert ids of every token fed
            through the model (the last generated token never is), or None for dense models.
        finish_reason: "stop" (stop id or string) or "length" (max_new_tokens or the cache is full).
        text: decoded completion without a final stop token, cut before a matched stop string (other special
            tokens kept); "" without a tokenizer.
    """

    prompt_index: int
    sample_index: int
    prompt_token_ids: list[int]
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    sampling_mask: SamplingMask | None = None
    routed_experts: torch.Tensor | None = None
    finish_reason: str = ""
    text: str = ""


@dataclass(slots=True)
class _Row:
    """Decode state of one cache row."""

    completion: Completion
    position: int  # where the next fed token goes (= tokens in cache)
    supports: list[torch.Tensor] = field(default_factory=list)
    experts: list[torch.Tensor] = field(default_factory=list)


def _matmul_weights(model: Transformer) -> list[torch.Tensor | tuple[torch.Tensor, ...]]:
    """The weights the engine's forwards multiply by: stacked groups where a module fuses them, then the rest."""
    groups = [g for m in model.modules() if hasattr(m, "fused_groups") for g in m.fused_groups()]
    grouped = {id(w) for g in groups for w in g}
    singles = [m.weight for m in model.modules() if isinstance(m, Linear) and id(m.weight) not in grouped]
    return groups + singles + [model.output_weight]


class Engine:
    """Generates completions for token-id prompts with an in-process Transformer.

    Prompts are prefilled in padded batches (rows need no left padding: cache slot = position), each prompt's
    n samples copy its prefill, and finished rows are refilled with the next prompt so short and long
    completions mix. Active rows stay packed at the front of the cache so each decode step runs only them.

    Example:
        engine = Engine(model, tokenizer)
        [c] = engine.generate([tokenizer.encode("Hi")], SamplingParams(max_new_tokens=8, temperature=0))
        c.token_ids, c.logprobs, c.finish_reason
    """

    def __init__(self, model: Transformer, tokenizer: Tokenizer | None = None,
                 config: EngineConfig | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config or EngineConfig()
        self.max_len = self.config.max_seq_len or min(model.cfg.max_seq_len, 2048)
        if self.max_len > model.cfg.max_seq_len:
            raise ValueError(f"EngineConfig.max_seq_len {self.max_len} exceeds the model's {model.cfg.max_seq_len}")
        self._cache: Cache | None = None
        self._packs: PackedWeights | None = None
        self._packed_ids: list[int] = []

    # public API
    def generate(self, prompt_token_ids: list[list[int]], params: SamplingParams | None = None) -> list[Completion]:
        """Completions for every prompt, prompt-major: [p0 s0, p0 s1, ..., p1 s0, ...] (n per prompt)."""
        params = params or SamplingParams()
        done = [c for c, _ in self._run(prompt_token_ids, params) if c is not None]
        done.sort(key=lambda c: (c.prompt_index, c.sample_index))
        return done

    def chat(self, messages: list[dict], tools: list[dict] | None = None,
             params: SamplingParams | None = None) -> list[Completion]:
        """Render the conversation with the tokenizer's ChatML template and generate params.n assistant replies."""
        if self.tokenizer is None:
            raise ValueError("Engine.chat needs a tokenizer")
        return self.generate([self.tokenizer.encode_chat(messages, tools)], params)

    def stream(self, prompt_token_ids: list[int], params: SamplingParams | None = None) -> Iterator[int]:
        """Token ids of one completion (n must be 1) as they are sampled."""
        params = params or SamplingParams()
        if params.n != 1:
            raise ValueError(f"Engine.stream: SamplingParams.n must be 1, got {params.n}")
        for finished, token in self._run([prompt_token_ids], params):
            if token is not None:
                yield token

    # the loop
    @torch.inference_mode()
    def _run(self, prompts: list[list[int]], params: SamplingParams) -> Iterator[tuple[Completion | None, int | None]]:
        """Yields (None, token) for every sampled token of row 0's stream and (completion, None) when one ends."""
        self._check(prompts, params)
        generator = torch.Generator().manual_seed(params.seed) if params.seed is not None else None
        stop_ids = set(params.stop_token_ids)
        if self.tokenizer is not None and not params.ignore_eos:
            stop_ids |= set(self.tokenizer.stop_ids)
        cache = self._get_cache()
        if self.config.pack_weights:
            self._refresh_packs()
        queue = deque(range(len(prompts)))
        rows: list[_Row] = []
        next_tokens: list[int] = []
        while queue or rows:
            admitted = []
            while queue and len(rows) + (len(admitted) + 1) * params.n <= self.config.max_batch_size:
                if sum(len(prompts[i]) for i in admitted) + len(prompts[queue[0]]) > self.config.max_prefill_tokens \
                        and admitted:
                    break
                admitted.append(queue.popleft())
            if admitted:
                new_rows, new_tokens = self._prefill(prompts, admitted, params, generator, cache, len(rows))
                rows += new_rows
                next_tokens += new_tokens
            else:
                step = self._decode(rows, next_tokens, params, generator, cache)
                next_tokens = step
            for token in next_tokens[:1] if len(prompts) == 1 and params.n == 1 and rows else []:
                yield None, token
            finished = [i for i, row in enumerate(rows) if self._is_finished(row, stop_ids, params)]
            for i in reversed(finished):
                yield self._finish(rows[i], params, stop_ids), None
                last = len(rows) - 1
                if i != last:  # keep active rows packed at the front of the cache
                    cache.copy_rows(torch.tensor([i]), torch.tensor([last]), rows[last].position)
                    rows[i], next_tokens[i] = rows[last], next_tokens[last]
                rows.pop()
                next_tokens.pop()

    def _prefill(self, prompts, admitted, params, generator, cache, first_row):
        lengths = [len(prompts[i]) for i in admitted]
        width = max(lengths)
        pad = self.tokenizer.pad_id if self.tokenizer else 0
        tokens = torch.tensor([prompts[i] + [pad] * (width - len(prompts[i])) for i in admitted])
        pcache = self.model.new_cache(len(admitted), width)  # prompt-sized, freed after the copy
        with self._packed():
            out = self.model(tokens, cache=pcache, num_keys=width, logits_index=torch.tensor(lengths) - 1)
        src = torch.arange(len(admitted)).repeat_interleave(params.n)
        dst = torch.arange(first_row, first_row + len(src))
        cache.copy_from(pcache, dst, src, width)
        result = sample(out.logits[src], params, generator)
        rows = []
        for j, (p, s) in enumerate(zip(src.tolist(), [k % params.n for k in range(len(src))])):
            completion = Completion(prompt_index=admitted[p], sample_index=s,
                                    prompt_token_ids=list(prompts[admitted[p]]))
            row = _Row(completion, position=lengths[p])
            if out.routed_experts is not None and self.config.record_routed_experts:
                row.experts.append(out.routed_experts[p, : lengths[p]].to(torch.int16))
            self._append(row, result, j)
            rows.append(row)
        return rows, result.tokens.tolist()

    def _decode(self, rows, next_tokens, params, generator, cache):
        tokens = torch.tensor(next_tokens).view(-1, 1)
        positions = torch.tensor([r.position for r in rows]).view(-1, 1)
        with self._packed():
            out = self.model(tokens, positions, cache, num_keys=int(positions.max()) + 1)
        result = sample(out.logits[:, 0], params, generator)
        for j, row in enumerate(rows):
            row.position += 1
            if out.routed_experts is not None and self.config.record_routed_experts:
                row.experts.append(out.routed_experts[j].to(torch.int16))
            self._append(row, result, j)
        return result.tokens.tolist()

    @staticmethod
    def _append(row: _Row, result: SampleOutput, j: int) -> None:
        row.completion.token_ids.append(int(result.tokens[j]))
        row.completion.logprobs.append(float(result.logprobs[j]))
        if result.supports is not None:
            row.supports.append(result.supports[j])

    def _is_finished(self, row: _Row, stop_ids: set[int], params: SamplingParams) -> bool:
        c = row.completion
        if c.token_ids[-1] in stop_ids or params.stop_strings and self.tokenizer is not None and self._stop_string_at(c, params) is not None:
            c.finish_reason = "stop"
        elif len(c.token_ids) >= params.max_new_tokens or row.position >= self.max_len:
            c.finish_reason = "length"
        return bool(c.finish_reason)

    def _stop_string_at(self, c: Completion, params: SamplingParams) -> int | None:
        text = self.tokenizer.decode(c.token_ids)
        hits = [text.find(s) for s in params.stop_strings if s in text]
        return min(hits) if hits else None

    def _finish(self, row: _Row, params: SamplingParams, stop_ids: set[int]) -> Completion:
        c = row.completion
        c.sampling_mask = SamplingMask.from_lists(row.supports) if row.supports else SamplingMask.full(len(c.token_ids))
        if row.experts:
            c.routed_experts = torch.cat(row.experts)
        if self.tokenizer is not None:
            ended_by_id = c.finish_reason == "stop" and c.token_ids[-1] in stop_ids
            c.text = self.tokenizer.decode(c.token_ids[:-1] if ended_by_id else c.token_ids)
            cut = self._stop_string_at(c, params) if params.stop_strings else None
            if cut is not None:
                c.text = c.text[:cut]
        return c

    # helpers
    def _check(self, prompts: list[list[int]], params: SamplingParams) -> None:
        if params.n > self.config.max_batch_size:
            raise ValueError(f"SamplingParams.n ({params.n}) exceeds EngineConfig.max_batch_size "
                             f"({self.config.max_batch_size})")
        for i, p in enumerate(prompts):
            if not p:
                raise ValueError(f"prompt {i} is empty")
            if len(p) >= self.max_len:
                raise ValueError(f"prompt {i} has {len(p)} tokens; the engine holds {self.max_len} positions")
            if len(p) > self.config.max_prefill_tokens:
                raise ValueError(f"prompt {i} has {len(p)} tokens > EngineConfig.max_prefill_tokens")

    def _refresh_packs(self) -> None:
        """Repack changed weights; start over when parameters were replaced (e.g. load_state_dict(assign=True))."""
        weights = _matmul_weights(self.model)
        ids = [id(w) for g in weights for w in (g if isinstance(g, tuple) else (g,))]
        if self._packs is None or ids != self._packed_ids:
            self._packs = PackedWeights(weights, batch_hint=self.config.max_batch_size,
                                        dtype=getattr(torch, self.config.pack_dtype))
            self._packed_ids = ids
        self._packs.refresh()

    def release_packs(self) -> int:
        """Free the packed copies of trainable weights (a trainer calls this before an update, which would leave them
        stale anyway), so they are not resident during the update; the next generate repacks. Returns bytes freed."""
        return self._packs.release() if self._packs is not None else 0

    def _packed(self) -> contextlib.AbstractContextManager:
        return self._packs.active() if self._packs is not None else contextlib.nullcontext()

    def _get_cache(self) -> Cache:
        if self._cache is None:
            self._cache = self.model.new_cache(self.config.max_batch_size, self.max_len)
        return self._cache
