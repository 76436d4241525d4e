"""Context handling, message level: which messages the policy sees under each rule, and what the trajectory records."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from agentgym.api import Action, Message, Observation, StepResult, Task, ToolCall, ToolSpec
from agentgym.rollout import ContextConfig, PolicyStep, run_episode
from agentgym.rollout.context import discard_rounds, drop_reasoning, fallback_summary, num_rounds_to_drop, split_rounds
from agentgym.rollout.reasoning import join_reasoning, split_reasoning

TASK = Task(id="t", env="rounds", prompt="find x")


class RoundsEnv:
    """Every step answers the call with a tool result `r<k>`; at step `user_at` it sends a new user message instead."""

    name = "rounds"

    def __init__(self, user_at: int | None = None) -> None:
        self.user_at = user_at

    def tools(self) -> list[ToolSpec]:
        return [ToolSpec(name="lookup")]

    async def reset(self, task, *, seed=None):
        self.k = 0
        return Observation(messages=[Message(role="system", content="sys"), Message(role="user", content=task.prompt)])

    async def step(self, action):
        self.k += 1
        if self.k == self.user_at:
            return StepResult(observation=Observation(messages=[Message(role="user", content="and now y?")]))
        return StepResult(observation=Observation(messages=[
            Message(role="tool", content=f"r{self.k}", tool_call_id=f"c{self.k}", name="lookup")]))

    async def close(self):
        pass


class RecordingPolicy:
    """Calls `lookup` with reasoning `why<k>`; remembers every message list it was shown; answers a summary request
    with `summary` (or raises / returns nothing)."""

    def __init__(self, summary: str | Exception = "x was r1, r2", tokens_per_message: int = 0) -> None:
        self.seen: list[list[Message]] = []
        self.summary = summary
        self.tokens_per_message = tokens_per_message

    async def act(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> PolicyStep:
        self.seen.append(list(messages))
        n = self.tokens_per_message * len(messages)
        if messages[-1].content == ContextConfig().summary_prompt:
            if isinstance(self.summary, Exception):
                raise self.summary
            return PolicyStep(action=Action(text=self.summary), num_prompt_tokens=n, num_completion_tokens=3)
        k = sum(m.role == "assistant" for m in messages) + 1
        call = ToolCall(id=f"c{k}", name="lookup", arguments={"q": f"q{k}"})
        return PolicyStep(action=Action(text="", reasoning=f"why{k}", tool_calls=[call]), num_prompt_tokens=n,
                          num_completion_tokens=0)


def per_message(n: int):
    """A token counter: `n` tokens per message."""
    return lambda messages, tools: n * len(messages)


def play(policy, *, context: ContextConfig | None, max_turns: int, user_at: int | None = None):
    return asyncio.run(run_episode(RoundsEnv(user_at), policy, TASK, max_turns=max_turns, context=context))


def conversation(num_rounds: int) -> list[Message]:
    out = [Message(role="system", content="sys"), Message(role="user", content="task")]
    for k in range(1, num_rounds + 1):
        out += [Message(role="assistant", reasoning=f"why{k}", tool_calls=[ToolCall(name="lookup")]),
                Message(role="tool", content=f"r{k}")]
    return out


# pure rules
def test_reasoning_is_dropped_only_before_the_last_user_message():
    msgs = conversation(2) + [Message(role="user", content="next")] + conversation(1)[2:]
    out, dropped = drop_reasoning(msgs)
    assert dropped == 2
    assert [m.reasoning for m in out if m.role == "assistant"] == [None, None, "why1"]
    assert [m.reasoning for m in msgs if m.role == "assistant"] == ["why1", "why2", "why1"]  # input untouched
    assert drop_reasoning(conversation(3)) == (conversation(3), 0)  # only tool results since the task: kept


def test_rounds_are_an_assistant_turn_and_what_follows_it():
    msgs = conversation(3)
    head, carry, rounds = split_rounds(msgs)
    assert [m.role for m in head] == ["system", "user"] and carry == []
    assert [[m.content or m.reasoning for m in r] for r in rounds] == [["why1", "r1"], ["why2", "r2"], ["why3", "r3"]]


@pytest.mark.parametrize(("num_rounds", "dropped_75", "dropped_all"), [(1, 1, 1), (2, 1, 2), (4, 3, 4), (8, 6, 8)])
def test_discard_counts(num_rounds, dropped_75, dropped_all):
    assert num_rounds_to_drop("discard-75%", num_rounds) == dropped_75
    assert num_rounds_to_drop("discard-all", num_rounds) == dropped_all
    kept, n = discard_rounds(conversation(num_rounds), "discard-75%")
    assert n == dropped_75
    assert [m.content for m in kept] == ["sys", "task"] + [
        c for k in range(dropped_75 + 1, num_rounds + 1) for c in ("", f"r{k}")]


def test_fallback_summary_lists_calls_and_clipped_results():
    msgs = [Message(role="assistant", tool_calls=[ToolCall(name="lookup", arguments={"q": "x"})]),
            Message(role="tool", name="lookup", content="a" * 30)]
    assert fallback_summary(msgs, max_chars=10).splitlines()[1:] == [
        '- called lookup({"q": "x"})', "- result of lookup: aaaaaaaaaa… [+20 chars]"]


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="strategy must be one of"):
        ContextConfig(strategy="discard-50%")
    with pytest.raises(ValueError, match="needs window_tokens"):
        ContextConfig(strategy="summary")
    with pytest.raises(ValueError, match="threshold"):
        ContextConfig(strategy="discard-all", window_tokens=10, threshold=1.5)


# in the loop
def test_reasoning_survives_tool_calls_and_is_dropped_at_a_new_user_message():
    policy = RecordingPolicy()
    traj = play(policy, context=ContextConfig(), max_turns=4, user_at=2)
    third = policy.seen[2]  # after turn 2 the env asked a new question
    assert [m.reasoning for m in policy.seen[1] if m.role == "assistant"] == ["why1"]  # kept across the tool result
    assert [m.reasoning for m in third if m.role == "assistant"] == [None, None]
    assert [m.reasoning for m in policy.seen[3] if m.role == "assistant"] == [None, None, "why3"]
    assert [m.reasoning for m in traj.messages if m.role == "assistant"] == ["why1", "why2", "why3", "why4"]
    assert traj.info["context"]["num_reasoning_dropped"] == 2 and traj.info["context"]["applied"] == {}


def test_no_context_config_shows_the_whole_history():
    policy = RecordingPolicy()
    traj = play(policy, context=None, max_turns=3, user_at=2)
    assert [m.reasoning for m in policy.seen[2] if m.role == "assistant"] == ["why1", "why2"]
    assert "context" not in traj.info


def test_discard_all_past_80_percent_keeps_system_and_task():
    policy = RecordingPolicy()
    config = ContextConfig(strategy="discard-all", window_tokens=100, token_counter=per_message(10))
    traj = play(policy, context=config, max_turns=5)
    sizes = [len(s) for s in policy.seen]
    assert sizes == [2, 4, 6, 2, 4]  # 8 messages = 80 tokens = 80 % of 100: everything after the task goes
    assert [m.content for m in policy.seen[3]] == ["sys", "find x"]
    info = traj.info["context"]
    assert info["applied"] == {"discard-all": 1}
    [event] = info["events"]
    assert event == {"turn": 4, "strategy": "discard-all", "tokens_before": 80, "messages_before": 8,
                     "rounds_before": 3, "rounds_dropped": 3, "messages_after": 2, "tokens_after": 20}
    assert traj.truncation_reason == "agent loop turn budget of 5 reached"  # a rewrite is not a truncation
    assert len(traj.messages) == 12  # the trajectory keeps the full log


def test_discard_75_keeps_the_newest_quarter():
    policy = RecordingPolicy()
    config = ContextConfig(strategy="discard-75%", window_tokens=100, token_counter=per_message(5))
    traj = play(policy, context=config, max_turns=9)
    # 16 messages = 80 tokens at turn 8: 7 rounds, floor(0.75 * 7) = 5 dropped, rounds 6 and 7 stay
    eighth = policy.seen[7]
    assert [m.content for m in eighth] == ["sys", "find x", "", "r6", "", "r7"]
    assert [m.tool_calls[0].id for m in eighth if m.role == "assistant"] == ["c6", "c7"]
    assert traj.info["context"]["applied"] == {"discard-75%": 1}
    assert traj.info["context"]["events"][0]["rounds_dropped"] == 5


def test_summary_written_by_the_policy_replaces_the_rounds():
    policy = RecordingPolicy(summary="x was r1, r2, r3")
    config = ContextConfig(strategy="summary", window_tokens=100, token_counter=per_message(10))
    traj = play(policy, context=config, max_turns=5)
    assert policy.seen[3][-1].content == config.summary_prompt  # the policy was asked, with the whole history
    after = policy.seen[4]
    assert [m.role for m in after] == ["system", "user", "user"]
    assert after[2].content.endswith("\nx was r1, r2, r3")
    event = traj.info["context"]["events"][0]
    assert event["summary_source"] == "policy" and event["rounds_dropped"] == 3
    assert traj.info["context"]["applied"] == {"summary": 1}
    assert len(traj.turns) == 5  # the summary call is not a training turn


@pytest.mark.parametrize(("summary", "why"), [("  \n", "policy returned no text"),
                                              (RuntimeError("down"), "policy raised RuntimeError: down")])
def test_summary_falls_back_to_a_deterministic_one(summary, why):
    policy = RecordingPolicy(summary=summary)
    config = ContextConfig(strategy="summary", window_tokens=100, token_counter=per_message(10))
    traj = play(policy, context=config, max_turns=5)
    event = traj.info["context"]["events"][0]
    assert event["summary_source"] == f"fallback: {why}"
    text = policy.seen[4][2].content
    assert '- called lookup({"q": "q1"})' in text and "- result of lookup: r3" in text
    assert traj.truncation_reason == "agent loop turn budget of 5 reached"


def test_strategy_none_truncates_when_the_window_is_full():
    policy = RecordingPolicy()
    config = ContextConfig(window_tokens=50, token_counter=per_message(10))
    traj = play(policy, context=config, max_turns=10)
    assert traj.truncated and len(traj.turns) == 2  # 6 messages = 60 tokens before turn 3
    assert traj.truncation_reason == "context window full: 60 of 50 tokens used and strategy 'none'"


def test_window_still_full_after_the_strategy_is_a_truncation():
    policy = RecordingPolicy()
    config = ContextConfig(strategy="discard-all", window_tokens=30, token_counter=lambda m, t: 10 * len(m) + 20)
    traj = play(policy, context=config, max_turns=10)
    assert traj.truncated and len(traj.turns) == 0
    assert traj.truncation_reason == "context window full: 40 of 30 tokens used and no tool-call round left for " \
                                     "'discard-all' to free"


def test_reported_tokens_trigger_the_strategy_without_a_tokenizer():
    policy = RecordingPolicy(tokens_per_message=10)  # reports 10 prompt tokens per message it was shown
    config = ContextConfig(strategy="discard-all", window_tokens=100)
    traj = play(policy, context=config, max_turns=7)
    # turn 4 saw 8 messages and reported 80 tokens -> discard before turn 5; no count again until turn 5 reports
    assert [len(s) for s in policy.seen] == [2, 4, 6, 8, 2, 4, 6]
    [event] = traj.info["context"]["events"]
    assert event["tokens_before"] == 80 and event["tokens_after"] is None


@pytest.mark.parametrize(("text", "reasoning", "content"), [
    ("<think>plan</think>\nanswer", "plan", "\nanswer"),
    ("answer <think>x</think>", None, "answer <think>x</think>"),  # not at the start: not reasoning
    ("<think>cut by length", None, "<think>cut by length"),  # unclosed: kept as content, nothing removed
    ("<think></think>", "", ""),
])
def test_split_reasoning_is_exactly_undone_by_join(text, reasoning, content):
    assert split_reasoning(text) == (reasoning, content)
    assert join_reasoning(*split_reasoning(text)) == text
