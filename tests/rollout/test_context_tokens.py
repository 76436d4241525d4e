"""Context handling, token level: what `EnginePolicy` records on the tiny model when reasoning is kept, dropped, or the
history is rewritten by a strategy, and what `trajectory_segments` trains on.

Replies that must contain reasoning are scripted (teacher-forced: the tiny model scores them, so the logprobs are the
model's); the others are sampled by the real engine. Each test prints the decoded token records (`pytest -s`).
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

import pytest
import torch
from agentgym.model import Engine, EngineConfig, SamplingMask, Transformer, get_preset
from agentgym.model.engine import Completion

from agentgym.api import Message, Observation, StepResult, Task
from agentgym.rl.sequences import trajectory_segments
from agentgym.model.char_tokenizer import CharTokenizer
from agentgym.rollout import ContextConfig, run_episode
from agentgym.rollout.context import tokenizer_counter
from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig, message_to_chat

ALPHABET = "abcdefghiklmnorstuz<>/\n "
TASK = Task(id="t", env="steps", prompt="go")


class StepsEnv:
    """Step k answers with the tool result `r` (or the user message `more` when k is in `user_at`)."""

    name = "steps"

    def __init__(self, user_at: tuple[int, ...] = ()) -> None:
        self.user_at = user_at

    def tools(self):
        return []

    async def reset(self, task, *, seed=None):
        self.k = 0
        return Observation(messages=[Message(role="user", content=task.prompt)])

    async def step(self, action):
        self.k += 1
        role, text = ("user", "more") if self.k in self.user_at else ("tool", "r")
        return StepResult(observation=Observation(messages=[Message(role=role, content=text)]))

    async def close(self):
        pass


class ScriptedEngine(Engine):
    """Replies with the queued texts (then samples normally); a scripted reply's logprobs are the tiny model's."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.scripts: deque[str] = deque()
        self.prompts: list[list[int]] = []

    def generate(self, prompts, params=None):
        self.prompts += [list(p) for p in prompts]
        if not self.scripts:
            return super().generate(prompts, params)
        out = []
        for i, p in enumerate(prompts):
            ids = self.tokenizer.encode(self.scripts.popleft()) + [self.tokenizer.eos_id]
            with torch.no_grad():
                logits = self.model(torch.tensor([p + ids])).logits[0, len(p) - 1:-1]
            lps = torch.log_softmax(logits.float(), -1).gather(-1, torch.tensor(ids)[:, None])[:, 0].tolist()
            out.append(Completion(prompt_index=i, sample_index=0, prompt_token_ids=list(p), token_ids=ids,
                                  logprobs=lps, sampling_mask=SamplingMask.full(len(ids)), finish_reason="stop"))
        return out


@pytest.fixture(scope="module")
def engine():
    tokenizer = CharTokenizer(ALPHABET)
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny").replace(vocab_size=tokenizer.vocab_size))
    return ScriptedEngine(model, tokenizer, EngineConfig(max_batch_size=4, max_seq_len=256))


def play(engine, *, scripts=(), context=None, user_at=(), max_turns=3, max_new_tokens=4, seed=0):
    engine.scripts.extend(scripts)
    engine.prompts.clear()
    policy = EnginePolicy(engine, EnginePolicyConfig(max_new_tokens=max_new_tokens, seed=seed))
    traj = asyncio.run(run_episode(StepsEnv(user_at), policy, TASK, max_turns=max_turns, context=context))
    tok = engine.tokenizer
    for i, t in enumerate(traj.turns):
        print(f"turn {i + 1} prompt {t.prompt_ids} = {tok.decode(t.prompt_ids)!r}")
        print(f"turn {i + 1} completion {t.completion_ids} = {tok.decode(t.completion_ids)!r}")
    return traj


def check_segments_train_only_sampled_tokens(traj, tokenizer):
    """Every trained target is a sampled token, in order, with its recorded logprob; nothing else is trained."""
    segments = trajectory_segments(traj, bos_id=tokenizer.bos_id)
    trained = [(s.tokens[p + 1], s.old_logprobs[p]) for s in segments for p, m in enumerate(s.trained) if m]
    sampled = [(tok, lp) for t in traj.turns for tok, lp in zip(t.completion_ids, t.logprobs)]
    assert trained == sampled
    assert all(math.isnan(s.old_logprobs[p]) for s in segments for p, m in enumerate(s.trained) if not m)
    return segments


def test_reasoning_is_kept_in_the_tokens_across_tool_calls(engine):
    tok = engine.tokenizer
    traj = play(engine, scripts=["<think>ab</think>c", "<think>de</think>f", "g"], context=ContextConfig())
    first, second, third = traj.turns
    assert tok.decode(first.prompt_ids) == "<|im_start|>ugo<|im_end|>\n<|im_start|>a"
    assert tok.decode(first.completion_ids) == "<think>ab</think>c<|im_end|>"
    # continuations: only the tool result and the generation prompt are new; the reasoning stays in the sequence
    assert tok.decode(second.prompt_ids) == "\n<|im_start|>tr<|im_end|>\n<|im_start|>a"
    assert tok.decode(third.prompt_ids) == "\n<|im_start|>tr<|im_end|>\n<|im_start|>a"
    fed = engine.prompts[2]
    assert fed == first.prompt_ids + first.completion_ids + second.prompt_ids + second.completion_ids \
        + third.prompt_ids
    assert tok.decode(fed).count("<think>") == 2
    assert traj.messages[1].reasoning == "ab" and traj.messages[1].content == "c"  # the env saw "c" only
    [segment] = check_segments_train_only_sampled_tokens(traj, tok)
    assert segment.tokens == fed + third.completion_ids


def test_a_new_user_message_drops_reasoning_and_starts_a_new_segment(engine):
    tok = engine.tokenizer
    traj = play(engine, scripts=["<think>ab</think>c", "<think>de</think>f", "g"], context=ContextConfig(),
                user_at=(2,))
    _, second, third = traj.turns
    assert second.prompt_ids[0] != tok.bos_id
    assert third.prompt_ids[0] == tok.bos_id  # rewritten history: the whole prompt, re-rendered
    expected = "<|im_start|>ugo<|im_end|>\n<|im_start|>ac<|im_end|>\n<|im_start|>tr<|im_end|>\n" \
               "<|im_start|>af<|im_end|>\n<|im_start|>umore<|im_end|>\n<|im_start|>a"
    assert tok.decode(third.prompt_ids) == expected
    view = [m.model_copy(update={"reasoning": None}) if m.role == "assistant" else m for m in traj.messages[:5]]
    assert third.prompt_ids == tok.encode_chat([message_to_chat(m) for m in view])
    segments = check_segments_train_only_sampled_tokens(traj, tok)
    assert [s.tokens[0] for s in segments] == [tok.bos_id, tok.bos_id]
    assert segments[1].tokens == third.prompt_ids + third.completion_ids
    assert traj.info["context"]["num_reasoning_dropped"] == 2


@pytest.mark.parametrize("strategy", ["discard-all", "discard-75%", "summary"])
def test_a_strategy_rewrite_starts_a_segment_whose_prompt_is_the_rerendered_view(engine, strategy):
    tok = engine.tokenizer
    window, max_turns = (150, 12) if strategy == "summary" else (40, 5)  # the summary header alone is 87 tokens
    config = ContextConfig(strategy=strategy, window_tokens=window, token_counter=tokenizer_counter(tok),
                           summary_prompt="summarize")
    traj = play(engine, context=config, max_turns=max_turns, max_new_tokens=3, seed=3)  # sampled by the tiny model
    [event] = traj.info["context"]["events"][:1]
    k = event["turn"] - 1  # the first turn after the rewrite
    turn = traj.turns[k]
    assert turn.prompt_ids[0] == tok.bos_id and all(t.prompt_ids[0] != tok.bos_id for t in traj.turns[1:k])
    assert len(turn.prompt_ids) == event["tokens_after"] < event["tokens_before"]
    head = "<|im_start|>ugo<|im_end|>\n"
    print(event)
    if strategy == "summary":
        assert event["summary_source"] == "policy" or event["summary_source"].startswith("fallback: ")
        summary = Message(role="user", content="Summary of the earlier tool calls (their messages were removed to "
                                               f"free the context):\n{event['summary']}")
        assert turn.prompt_ids == tok.encode_chat([message_to_chat(m) for m in (traj.messages[:1] + [summary])])
    elif strategy == "discard-all":
        assert tok.decode(turn.prompt_ids) == head + "<|im_start|>a"
    else:
        assert tok.decode(turn.prompt_ids).startswith(head + "<|im_start|>a")
        assert event["rounds_dropped"] == math.floor(0.75 * event["rounds_before"])
    segments = check_segments_train_only_sampled_tokens(traj, tok)
    assert len(segments) == 1 + len(traj.info["context"]["events"])
    assert traj.truncation_reason == f"agent loop turn budget of {max_turns} reached"
