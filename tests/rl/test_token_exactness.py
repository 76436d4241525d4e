"""Token-in, token-out: the trainer's sequences are exactly the ids the engine was fed and sampled, never a
re-tokenization of decoded text (docs/token_exactness.md).

Random multi-turn episodes (hypothesis) run through the real agent loop, the real `EnginePolicy` and the real
`Engine` on a tiny random model over a byte-level BPE vocabulary, with the ChatML and the DeepSeek templates. The
model's head is biased towards the ids that make bookkeeping hard: the end-of-turn id, `<think>`/`</think>`, byte
pieces of merged tokens (so replies often do not survive decode → encode), `<`, `|` and the control ids themselves.
Observations carry odd whitespace, \\r\\n, tabs, unicode, emoji and text that spells special tokens.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import torch
from agentgym.model import Engine, EngineConfig, Transformer, get_preset
from agentgym.model.tokenizer import Tokenizer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentgym.api import Message, Observation, StepResult, Task
from agentgym.rl.sequences import trajectory_segments
from agentgym.rollout import RolloutConfig, run_episodes
from agentgym.rollout.context import ContextConfig
from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig

MERGES = ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld", "Ċ Ċ", "Ġ Ġ", "< |", "| >",
          "t h", "Ġ th", "Ġth e"]
ODD_TEXT = ["hello world", " \t\r\n", "\r\n\r\n", "\n\n\n", "  ", "naïve café", "日本語", "🙂🚀", "👩\u200d💻",
            "\u00a0\u2028", "<|im_end|>", "<|im_start|>user\n", "<｜end▁of▁sentence｜>", "<｜User｜>", "<think>",
            "</think>", "<tool_call>\n{}\n</tool_call>", "<｜tool▁output▁end｜>", "\\n", "the", "\x00\x7f"]


def _tokenizer(template: str) -> Tokenizer:
    from tokenizers import pre_tokenizers

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    merged = [m.replace(" ", "") for m in MERGES]
    user = ["<think>", "</think>", "<tool_call>", "</tool_call>"]
    tokens = specials + alphabet + merged + user
    types = [3] * 3 + [1] * (len(alphabet) + len(merged)) + [4] * len(user)
    metadata = {"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.merges": MERGES,
                "tokenizer.ggml.token_type": types, "tokenizer.ggml.bos_token_id": 1,
                "tokenizer.ggml.eos_token_id": 2}
    return Tokenizer.from_gguf_metadata(metadata).with_template(template)


class SpyEngine(Engine):
    """Records every (prompt ids, sampled ids) pair the model actually processed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()

    def generate(self, prompts, params=None):
        completions = super().generate(prompts, params)
        for c in completions:
            self.seen.add((tuple(prompts[c.prompt_index]), tuple(c.token_ids)))
        return completions


def _engine(template: str, only: list[str] | None = None) -> SpyEngine:
    """The tiny model with a biased head; `only`: sample nothing but these pieces (and the end-of-turn id)."""
    tokenizer = _tokenizer(template)
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny").replace(vocab_size=tokenizer.vocab_size, max_seq_len=1024))
    bias = torch.zeros(tokenizer.vocab_size)
    if only is not None:
        bias -= 30.0
        bias[[tokenizer.eos_id, *(tokenizer.backend.token_to_id(t) for t in only)]] = 0.0
    else:
        favored = [tokenizer.eos_id, tokenizer.bos_id,
                   *(tokenizer.backend.token_to_id(t) for t in ("h", "e", "l", "o", "<", "|", "Ġ", "Ċ"))]
        if template == "deepseek":
            favored += tokenizer.encode("<｜User｜><｜tool▁calls▁begin｜>")
        bias[favored] = 3.0
        bias[tokenizer.encode("<think></think>")] = 6.0  # replies often open with reasoning, and close it
    plain_logits = model.logits
    model.logits = lambda hidden: plain_logits(hidden) + bias  # a tiny model with a biased head
    return SpyEngine(model, tokenizer, EngineConfig(max_batch_size=16, max_seq_len=1024))


class ScriptedEnv:
    """Plays back a drawn script: after assistant turn k, observation messages script[k] (tool results or a new user
    message) and reward rewards[k]; the episode ends after the last scripted step."""

    name = "scripted"

    def __init__(self, script: list[list[tuple[str, str]]], rewards: list[float]) -> None:
        self.script, self.rewards = script, rewards

    def tools(self):
        return []

    async def reset(self, task, *, seed=None):
        self.turn = 0
        self.delay = (seed or 0) % 4 * 3  # episodes answer in a shuffled order, as envs with I/O do
        return Observation(messages=[Message(role="system", content="Be\tterse.\r\n"),
                                     Message(role="user", content=task.prompt)])

    async def step(self, action):
        k, self.turn = self.turn, self.turn + 1
        for _ in range(self.delay):
            await asyncio.sleep(0)
        last = self.turn == len(self.script)
        messages = [Message(role=role, content=content) for role, content in self.script[k]]
        return StepResult(observation=Observation(messages=messages), reward=self.rewards[k], terminated=last)

    async def close(self):
        pass


odd_text = st.lists(st.sampled_from(ODD_TEXT) | st.text(max_size=6), min_size=1, max_size=4).map("".join)
observation = st.lists(st.tuples(st.sampled_from(["tool", "user"]), odd_text), min_size=1, max_size=2)
episode = st.fixed_dictionaries({
    "prompt": odd_text,
    "script": st.lists(observation, min_size=1, max_size=4),
    "max_new_tokens": st.integers(1, 10),
    "seed": st.integers(0, 2**16),
    "drop_reasoning_on_user": st.booleans(),  # the context manager drops earlier reasoning (both templates)
})


def _check_episode(engine: SpyEngine, trajectory, stats: Counter) -> None:
    tokenizer = engine.tokenizer
    segments = trajectory_segments(trajectory, bos_id=tokenizer.bos_id)
    turns = [t for t in trajectory.turns if t.prompt_ids or t.completion_ids]
    starts = [i for i, t in enumerate(turns) if i == 0 or t.prompt_ids[0] == tokenizer.bos_id]
    assert len(segments) == len(starts)
    stats["segments"] += len(segments)
    stats["continuations"] += len(turns) - len(starts)
    for segment, first, end in zip(segments, starts, starts[1:] + [len(turns)]):
        expected_tokens, completion_positions = [], []
        for turn in turns[first:end]:
            expected_tokens += turn.prompt_ids
            prefix = tuple(expected_tokens)
            # the model was fed exactly the segment so far, and sampled exactly these ids from it
            assert (prefix, tuple(turn.completion_ids)) in engine.seen
            completion_positions += range(len(expected_tokens) - 1, len(expected_tokens) - 1 + len(turn.completion_ids))
            expected_tokens += turn.completion_ids
            if tokenizer.encode(tokenizer.decode(turn.completion_ids)) != turn.completion_ids:
                stats["not_round_trip"] += 1  # ...and yet the training sequence holds the sampled ids verbatim
        assert segment.tokens == expected_tokens
        trained = [p for p, t in enumerate(segment.trained) if t]
        assert trained == completion_positions == segment.completion_positions  # sampled ids, and only those
    # every observation the env sent is, verbatim, among the untrained (prompt) tokens of the segment it went into
    prompt_text = [tokenizer.decode([i for t in turns[a:b] for i in t.prompt_ids])
                   for a, b in zip(starts, starts[1:] + [len(turns)])]
    last_reply = max(i for i, m in enumerate(trajectory.messages) if m.role == "assistant")
    for m in trajectory.messages[:last_reply]:
        if m.role != "assistant":
            assert any(m.content in text for text in prompt_text), m.content


def _stripped_reasoning(trajectory, tokenizer) -> int:
    """New segments opened right after a reply that started with a closed reasoning block and a user message: the
    history was rewritten without that reasoning (by the template or the context manager)."""
    count = 0
    for previous, turn in zip(trajectory.turns, trajectory.turns[1:]):
        reply = tokenizer.decode(previous.completion_ids, skip_special_tokens=True)
        if turn.prompt_ids[0] == tokenizer.bos_id and reply.startswith("<think>") and "</think>" in reply:
            count += 1
    return count


@pytest.mark.slow
@pytest.mark.parametrize("template", ["chatml", "deepseek"])
def test_training_sequences_are_exactly_the_fed_and_sampled_ids(template):
    engine = _engine(template)
    stats: Counter = Counter()

    @settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(episode)
    def run(drawn):
        policy = EnginePolicy(engine, EnginePolicyConfig(max_new_tokens=drawn["max_new_tokens"], seed=drawn["seed"]))
        rewards = [float(i % 2) for i in range(len(drawn["script"]))]
        task = Task(id="t", env="scripted", prompt=drawn["prompt"])
        context = ContextConfig() if drawn["drop_reasoning_on_user"] else None
        trajectories = asyncio.run(run_episodes(lambda: ScriptedEnv(drawn["script"], rewards), policy, [task],
                                                RolloutConfig(num_samples=3, max_turns=8, progress=False,
                                                              context=context)))
        for trajectory in trajectories:
            assert trajectory.error is None or trajectory.error == "model_error", trajectory.info
            _check_episode(engine, trajectory, stats)
            stats["stripped"] += _stripped_reasoning(trajectory, engine.tokenizer)
            stats["reasoning"] += sum(m.reasoning is not None for m in trajectory.messages)

    run()
    # the draws reached the cases this test is about
    assert stats["continuations"] > 0 and stats["not_round_trip"] > 0, stats


@pytest.mark.parametrize("template", ["chatml", "deepseek"])
def test_replies_with_the_same_text_from_different_ids_keep_their_own_ids(template):
    """A group's replies "h"+"e" and "he"+end decode to the same text: each episode must continue from its own ids
    (a text-keyed lookup alone would hand one episode's tokens to another)."""
    engine = _engine(template, only=["h", "e", "he"])
    script = [[("tool", "\r\n🙂\t")], [("tool", "<|im_end|>")]]
    tokenizer = engine.tokenizer
    collisions: Counter = Counter()
    for seed in range(8):  # eight groups of 16; the shuffled env delays interleave the episodes' turns
        policy = EnginePolicy(engine, EnginePolicyConfig(max_new_tokens=2, seed=seed))
        task = Task(id="t", env="scripted", prompt="say he")
        trajectories = asyncio.run(run_episodes(lambda: ScriptedEnv(script, [0.0, 1.0]), policy, [task],
                                                RolloutConfig(num_samples=16, max_turns=4, progress=False)))
        texts: dict[str, set] = {}
        for trajectory in trajectories:
            assert trajectory.error != "env_error", trajectory.info
            _check_episode(engine, trajectory, collisions)
            ids = tuple(trajectory.turns[0].completion_ids)
            texts.setdefault(tokenizer.decode(ids, skip_special_tokens=True), set()).add(ids)
        collisions["groups_with_collision"] += any(len(v) > 1 for v in texts.values())
    assert collisions["groups_with_collision"] >= 1 and collisions["not_round_trip"] > 0, collisions
    assert collisions["continuations"] > 0, collisions


@pytest.mark.parametrize(("template", "context"), [("chatml", ContextConfig()), ("deepseek", None)])
def test_dropped_reasoning_opens_a_new_segment_of_exact_tokens(template, context):
    """Replies that open and close reasoning, then a user message: the history without that reasoning (dropped by the
    context manager for ChatML, by the template itself for DeepSeek) is a new segment, and still exact."""
    engine = _engine(template, only=["<think>", "</think>", "h"])
    script = [[("user", "and\r\nnow?")], [("tool", "\t🙂")], [("user", "<|im_start|>done")]]
    stats: Counter = Counter()
    for seed in range(4):
        policy = EnginePolicy(engine, EnginePolicyConfig(max_new_tokens=6, seed=seed))
        task = Task(id="t", env="scripted", prompt="think")
        trajectories = asyncio.run(run_episodes(lambda: ScriptedEnv(script, [0.0, 0.0, 1.0]), policy, [task],
                                                RolloutConfig(num_samples=16, max_turns=4, progress=False,
                                                              context=context)))
        for trajectory in trajectories:
            assert trajectory.error != "env_error", trajectory.info
            _check_episode(engine, trajectory, stats)
            stats["stripped"] += _stripped_reasoning(trajectory, engine.tokenizer)
    assert stats["stripped"] > 0 and stats["continuations"] > 0, stats
