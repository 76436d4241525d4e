"""`EnginePolicy`: the embedded engine as a `Policy`; concurrent `act()` calls are gathered into one batched generate.

Token bookkeeping (what the trainer replays): the first turn of an episode records the whole rendered prompt in
`Turn.prompt_ids` (it starts with the tokenizer's `bos_id`, `<|im_start|>` for ChatML). A later turn whose
conversation extends the previous turn's prompt + completion records only the new tokens (closing `<|im_end|>` if the
completion was cut by length, what the template writes after it, then the rendered observations and the next generation prompt), so the
concatenation of all turns is exactly the token sequence the model saw. When the history was rewritten (context
handling, or a template that drops earlier reasoning), the turn again records its whole prompt, starting with
`bos_id`, and starts a new training segment. A continuation must not start with `bos_id` (ChatML writes a newline
after `<|im_end|>`; DeepSeek's next token is `<｜User｜>` or `<｜tool▁output▁begin｜>`, and its `bos_id` only opens the
conversation); one that would is recorded whole instead. The previous turn's ids are remembered per episode (the
asyncio task that plays it) with the text they render to, never re-encoded from it: a turn continues only if its
history renders to exactly that text. See docs/token_exactness.md.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgym.api import Action, Message, ToolSpec, Turn
from agentgym.rollout.budget import ContextWindowFull
from agentgym.rollout.compute_thread import run_compute
from agentgym.rollout.policy import PolicyStep
from agentgym.rollout.reasoning import join_reasoning, split_reasoning


@dataclass(kw_only=True, slots=True)
class EnginePolicyConfig:
    """How the embedded-engine policy samples and batches.

    Attributes:
        temperature, top_p, top_k, max_new_tokens: sampling settings of every turn (max_new_tokens None: the
            engine's `SamplingParams` default, filled in at construction).
        max_batch: requests per `Engine.generate` call (the engine's `max_batch_size` bounds it too).
        max_wait_s: how long a batch waits for more requests once the event loop has gone quiet.
        seed: base sampling seed; call k of the policy uses `seed * 1_000_003 + k` (see `reseed`).
        ignore_eos: never stop at the end-of-turn token (fixed-length completions, for benchmarks).
        split_reasoning: a reply that starts with `<think>…</think>` gives that block as `Action.reasoning` and the
            rest as `Action.text` (rendered back exactly by `message_to_chat`).
    """

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int | None = None
    max_batch: int = 16
    max_wait_s: float = 0.005
    seed: int = 0
    ignore_eos: bool = False
    split_reasoning: bool = True

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError(f"EnginePolicyConfig.max_batch must be >= 1, got {self.max_batch}")
        if self.max_wait_s < 0:
            raise ValueError(f"EnginePolicyConfig.max_wait_s must be >= 0, got {self.max_wait_s}")
        if self.max_new_tokens is None:
            from agentgym.model.sampling_params import DEFAULT_MAX_NEW_TOKENS

            self.max_new_tokens = DEFAULT_MAX_NEW_TOKENS
        if self.max_new_tokens < 1:
            raise ValueError(f"EnginePolicyConfig.max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass(slots=True)
class _Request:
    prompt_ids: list[int]
    full_ids: list[int]
    future: asyncio.Future = field(repr=False)


def message_to_chat(message: Message) -> dict[str, Any]:
    """A message as the tokenizer's chat template takes it (tool calls as name + arguments; kept reasoning written
    back as the `<think>…</think>` block it was sampled as)."""
    out: dict[str, Any] = {"role": message.role, "content": join_reasoning(message.reasoning, message.content)}
    if message.tool_calls:
        out["tool_calls"] = [{"name": c.name, "arguments": c.arguments if isinstance(c.arguments, dict) else {}}
                             for c in message.tool_calls]
    return out


class EnginePolicy:
    """Acts with an in-process `agentgym.model.Engine`; many episodes' requests share one batched generate call.

    Each `act` renders the conversation with the tokenizer's chat template (tools in the Hermes format), queues the
    prompt and awaits its completion. A batcher task collects queued prompts until the event loop is quiet (every
    episode that can act has acted), `max_batch` is reached or `max_wait_s` passes, runs `Engine.generate` in a worker
    thread and resolves the futures. The completion text goes to the env unparsed (`Action.text`); the env's tool
    layer parses the `<tool_call>` blocks.

    Args:
        engine: the `Engine` (its tokenizer must be set).
        config: sampling and batching settings.
        policy_version: stamped on every `Turn` (the trainer bumps it after each update).
    """

    def __init__(self, engine: Any, config: EnginePolicyConfig | None = None, *, policy_version: int = 0) -> None:
        if engine.tokenizer is None:
            raise ValueError("EnginePolicy needs an Engine with a tokenizer")
        self.engine = engine
        self.tokenizer = engine.tokenizer
        self.config = config or EnginePolicyConfig()
        self.policy_version = policy_version
        self.num_calls = 0
        self.num_generate_calls = 0
        self._seed = self.config.seed
        self._pending: list[_Request] = []
        self._batcher: asyncio.Task | None = None
        self._last_turn: weakref.WeakKeyDictionary[asyncio.Task, tuple[str, list[int]]] = weakref.WeakKeyDictionary()

    def reseed(self, seed: int) -> None:
        """Restart the per-call seed sequence (the trainer reseeds at each step so a resumed run samples the same)."""
        self._seed = seed
        self.num_generate_calls = 0
        self._last_turn.clear()

    # the Policy protocol
    async def act(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> PolicyStep:
        self.num_calls += 1
        chat = [message_to_chat(m) for m in messages]
        tool_dicts = [t.to_openai() for t in tools] or None
        continued = self._continuation(chat, tool_dicts)
        if continued is None:
            full_ids = self.tokenizer.encode_chat(chat, tool_dicts, add_generation_prompt=True)
            prompt_ids = full_ids
        else:
            seen, prompt_ids = continued
            full_ids = seen + prompt_ids
        if len(full_ids) >= self.engine.max_len:
            raise ContextWindowFull(len(full_ids), self.engine.max_len)
        loop = asyncio.get_running_loop()
        request = _Request(prompt_ids=prompt_ids, full_ids=full_ids, future=loop.create_future())
        self._pending.append(request)
        if self._batcher is None or self._batcher.done():
            self._batcher = loop.create_task(self._run_batches())
        completion = await request.future
        turn = self._turn(request, completion)
        ids = completion.token_ids
        text_ids = ids[:-1] if ids and ids[-1] in self.tokenizer.stop_ids else ids
        text = self.tokenizer.decode(text_ids, skip_special_tokens=True)
        self._remember(chat + [{"role": "assistant", "content": text}], tool_dicts, request.full_ids + list(ids))
        reasoning, content = split_reasoning(text) if self.config.split_reasoning else (None, text)
        return PolicyStep(action=Action(text=content, reasoning=reasoning), turn=turn,
                          num_prompt_tokens=len(full_ids), num_completion_tokens=len(completion.token_ids))

    # batching
    async def _run_batches(self) -> None:
        while self._pending:
            await self._gather()
            batch, self._pending = self._pending[: self.config.max_batch], self._pending[self.config.max_batch:]
            try:
                completions = await run_compute(self._generate, [r.full_ids for r in batch])
            except BaseException as e:  # noqa: BLE001 - every waiter learns of the failure
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(e)
                continue
            for r, c in zip(batch, completions):
                if not r.future.done():
                    r.future.set_result(c)

    async def _gather(self) -> None:
        """Wait until no new request arrived during one pass of the event loop (or the batch is full / time is up)."""
        deadline = time.monotonic() + self.config.max_wait_s
        seen = -1
        while len(self._pending) < self.config.max_batch and len(self._pending) != seen:
            seen = len(self._pending)
            for _ in range(4):  # envs without I/O reach their next act() within a few loop passes
                await asyncio.sleep(0)
            if time.monotonic() > deadline and len(self._pending) == seen:
                break

    def _generate(self, prompts: list[list[int]]) -> list[Any]:
        """One engine call. Copies of a prompt (GRPO groups) share prefills: with n = gcd of the copy counts, each
        distinct prompt is prefilled count / n times and sampled n times per prefill (`SamplingParams.n`)."""
        from agentgym.model import SamplingParams

        seed = self._seed * 1_000_003 + self.num_generate_calls
        self.num_generate_calls += 1
        unique: dict[tuple[int, ...], list[int]] = {}
        for i, p in enumerate(prompts):
            unique.setdefault(tuple(p), []).append(i)
        n = math.gcd(*(len(v) for v in unique.values()))
        params = SamplingParams(n=n, temperature=self.config.temperature, top_p=self.config.top_p,
                                top_k=self.config.top_k, max_new_tokens=self.config.max_new_tokens, seed=seed,
                                ignore_eos=self.config.ignore_eos)
        if n == 1:
            return self.engine.generate(prompts, params)
        rows = [idx[j:j + n] for idx in unique.values() for j in range(0, len(idx), n)]  # n requests per row
        completions = self.engine.generate([prompts[r[0]] for r in rows], params)
        out: list[Any] = [None] * len(prompts)
        for c in completions:
            out[rows[c.prompt_index][c.sample_index]] = c
        return out

    # token records
    def _turn(self, request: _Request, completion: Any) -> Turn:
        mask = completion.sampling_mask
        sampling_mask = None
        if mask is not None and not mask.is_full:
            sampling_mask = {"offsets": mask.offsets.tolist(), "token_ids": mask.token_ids.tolist()}
        experts = completion.routed_experts.tolist() if completion.routed_experts is not None else None
        finish = completion.finish_reason
        if finish == "length" and len(completion.token_ids) < self.config.max_new_tokens:
            finish = "window"  # the engine's rows were full before max_new_tokens
        return Turn(prompt_ids=list(request.prompt_ids), completion_ids=list(completion.token_ids),
                    logprobs=[float(x) for x in completion.logprobs], loss_mask=[1] * len(completion.token_ids),
                    sampling_mask=sampling_mask, routed_experts=experts, policy_version=self.policy_version,
                    finish_reason=finish or None)

    def _remember(self, chat: list[dict], tools: list[dict] | None, seen: list[int]) -> None:
        """Keep the tokens the model saw through this turn, with the rendered conversation they stand for, for the
        next turn of the same episode: the asyncio task that runs it (the agent loop plays an episode in one task).

        Never across episodes: replies that decode to the same text can come from different ids ("h"+"e" and "he"),
        and a rewritten history (dropped reasoning) can render like another episode's real one."""
        key = self.tokenizer.render_chat(chat, tools, add_generation_prompt=False)
        self._last_turn[asyncio.current_task()] = (key, seen)

    def _continuation(self, chat: list[dict], tools: list[dict] | None) -> tuple[list[int], list[int]] | None:
        """(tokens seen through the previous turn, the new tokens since), or None when this turn starts a segment."""
        last = max((i for i, m in enumerate(chat) if m["role"] == "assistant"), default=None)
        if last is None:
            return None
        remembered = self._last_turn.pop(asyncio.current_task(), None)
        through = self.tokenizer.render_chat(chat[: last + 1], tools, add_generation_prompt=False)
        if remembered is None or remembered[0] != through:
            return None
        seen = remembered[1]
        full = self.tokenizer.render_chat(chat, tools, add_generation_prompt=True)
        end_marker = self.tokenizer.decode([self.tokenizer.eos_id])
        cut = through.rfind(end_marker)
        if not full.startswith(through) or cut < 0:
            return None
        tail = through[cut + len(end_marker):]  # what the template writes after the end-of-turn token (ChatML: "\n")
        close = [] if seen and seen[-1] in self.tokenizer.stop_ids else [self.tokenizer.eos_id]
        new = close + self.tokenizer.encode(tail + full[len(through):])
        if not new or new[0] == self.tokenizer.bos_id:
            return None  # a continuation starting with bos_id would read as a new segment: not markable
        return seen, new
