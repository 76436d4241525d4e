"""`SamplingParams`: how the engine samples a completion; torch-free, so every config layer can read its defaults.

`max_new_tokens` has its one default here (`DEFAULT_MAX_NEW_TOKENS`): the trainer's `sampling` section, the
engine policy, the recipe, the quickstart and `agentgym model generate` all refer to it instead of declaring their own.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_NEW_TOKENS = 64
"""Tokens per completion (per assistant turn) unless a caller sets `max_new_tokens`."""


@dataclass(kw_only=True, slots=True)
class SamplingParams:
    """How to sample completions.

    Attributes:
        n: completions per prompt; they share one prefill.
        temperature: softmax temperature; 0 means greedy (support = the argmax, logprob 0).
        top_p: nucleus mass in (0, 1]; 1 disables it.
        top_k: keep the k most likely tokens; 0 disables it.
        max_new_tokens: completion length limit (finish_reason "length").
        stop_token_ids: ids that end a completion (kept as its last token); the engine adds the tokenizer's eos.
        stop_strings: strings that end a completion; token ids are kept whole, `text` is cut before the string.
        seed: seed of the engine's torch.Generator for this call (None: nondeterministic).
        ignore_eos: do not add the tokenizer's end-of-turn ids to the stop ids (benchmarks, fixed lengths).
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    stop_token_ids: tuple[int, ...] = ()
    stop_strings: tuple[str, ...] = ()
    seed: int | None = None
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"SamplingParams.n must be >= 1, got {self.n}")
        if self.temperature < 0:
            raise ValueError(f"SamplingParams.temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"SamplingParams.top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"SamplingParams.top_k must be >= 0, got {self.top_k}")
        if self.max_new_tokens < 1:
            raise ValueError(f"SamplingParams.max_new_tokens must be >= 1, got {self.max_new_tokens}")
        self.stop_token_ids = tuple(int(t) for t in self.stop_token_ids)
        self.stop_strings = tuple(self.stop_strings)

    @property
    def is_truncating(self) -> bool:
        """True when the support can be smaller than the vocabulary (greedy, top-k or top-p)."""
        return self.temperature == 0 or self.top_k > 0 or self.top_p < 1
