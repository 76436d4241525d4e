"""Multi-turn demonstrations: reference trajectories through the agent loop, reward 1 only, assistant tokens only."""

from __future__ import annotations

import agentgym
from agentgym.api import Action, Task
from agentgym.model.tokenizer import Tokenizer
from agentgym.rl.demos import reference_demonstrations, reference_trajectories, rejection_demonstrations
from agentgym.rollout import ScriptedPolicy
from agentgym.tools import render_tool_calls, tool_call


def _tokenizer() -> Tokenizer:
    """A byte-level BPE tokenizer with ChatML specials: any text encodes, no model download."""
    from tokenizers import pre_tokenizers

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens = specials + sorted(pre_tokenizers.ByteLevel.alphabet())
    return Tokenizer.from_gguf_metadata({
        "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.merges": [],
        "tokenizer.ggml.token_type": [3, 3, 3] + [1] * (len(tokens) - 3), "tokenizer.ggml.bos_token_id": 1,
        "tokenizer.ggml.eos_token_id": 2, "tokenizer.chat_template": ""})


def _trained_spans(tokenizer, example) -> list[str]:
    """The decoded runs of consecutive trained target tokens."""
    spans, current = [], []
    for token, flag in zip(example.tokens[1:], example.trained):
        if flag:
            current.append(token)
        elif current:
            spans.append(tokenizer.decode(current))
            current = []
    if current:
        spans.append(tokenizer.decode(current))
    return spans


def test_arith_demonstrations_are_two_turns_and_train_only_the_tool_call_text():
    tokenizer = _tokenizer()
    tasks = agentgym.make("arith").sample_tasks(3, seed=5)
    examples = reference_demonstrations(lambda: agentgym.make("arith"), tasks, tokenizer, max_turns=4)
    assert len(examples) == 3
    for task, example in zip(tasks, examples):
        assert len(example.trained) == len(example.tokens) - 1
        calc = render_tool_calls([tool_call("calculator", expression=task.data["expression"])])
        submit = render_tool_calls([tool_call("submit", answer=task.data["answer"])])
        assert _trained_spans(tokenizer, example) == [calc + "<|im_end|>\n", submit + "<|im_end|>\n"]
        text = tokenizer.decode(example.tokens)
        assert "<tool_response>" in text and task.prompt in text and '"name": "calculator"' in text  # tools shown
        untrained = tokenizer.decode(t for t, f in zip(example.tokens[1:], example.trained) if not f)
        assert f"<tool_response>\n{task.data['answer']}\n</tool_response>" in untrained  # observation not trained


def test_only_reward_1_trajectories_are_kept():
    tasks = agentgym.make("arith").sample_tasks(2, seed=0)
    broken = Task(id="wrong", env="arith", prompt=tasks[0].prompt, data={**tasks[0].data, "answer": -1})
    kept = reference_trajectories(lambda: agentgym.make("arith"), [tasks[0], broken, tasks[1]], max_turns=4)
    assert [t.task_id for t, _ in kept] == [tasks[0].id, tasks[1].id]
    assert all(t.reward == 1.0 and t.num_turns == 2 for t, _ in kept)


def test_general_demonstrations_carry_each_tasks_own_tools():
    tokenizer = _tokenizer()
    env = agentgym.make("general")
    tasks = env.sample_tasks(2, seed=0)
    kept = reference_trajectories(lambda: agentgym.make("general"), tasks, max_turns=16)
    assert len(kept) == 2
    for (trajectory, tools), task in zip(kept, tasks):
        names = {s.name for s in tools}
        assert names >= {c["name"] for c in task.data["reference"]["calls"]} | {"submit"}
        assert trajectory.num_turns == len(task.data["reference"]["calls"]) + 1
    examples = reference_demonstrations(lambda: agentgym.make("general"), tasks, tokenizer)
    assert [len(_trained_spans(tokenizer, e)) for e in examples] == [t.num_turns for t, _ in kept]


def test_rejection_demonstrations_mix_in_the_models_own_successes():
    tokenizer = _tokenizer()
    tasks = agentgym.make("arith").sample_tasks(2, seed=0)
    answers = iter([tasks[0].data["answer"], 0, tasks[1].data["answer"], 0])  # right, wrong, right, wrong

    def act(messages, tools):
        return Action(text=render_tool_calls([tool_call("submit", answer=next(answers))]))

    examples = rejection_demonstrations(lambda: agentgym.make("arith"), ScriptedPolicy(act), tasks, tokenizer,
                                        num_samples=2, max_turns=4)
    assert len(examples) == 2 and all(len(_trained_spans(tokenizer, e)) == 1 for e in examples)
