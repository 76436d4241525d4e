"""Cold-start SFT: only successful trajectories are kept, only assistant tokens are trained, and the loss falls."""

from __future__ import annotations

import pytest
import torch
from agentgym.model import Transformer, get_preset

from agentgym.api import Action
from agentgym.rl.sft import rejection_sample, sft_example, sft_loss, train_sft
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.model.char_tokenizer import CharTokenizer
from agentgym.rollout import ScriptedPolicy


def _demos():
    count = {"n": 0}

    def act(messages, tools):  # right two times out of three
        count["n"] += 1
        return Action(text=messages[-1].content if count["n"] % 3 else "h")

    tasks = EchoLetterEnv(letters="abc").sample_tasks(6, seed=0)
    return rejection_sample(EchoLetterEnv, ScriptedPolicy(act), tasks, num_samples=3)


def test_rejection_sampling_keeps_only_successes():
    kept = _demos()
    assert 0 < len(kept) < 18 and all(t.reward == 1.0 for t in kept)


def test_only_assistant_tokens_are_trained():
    tokenizer = CharTokenizer()
    [trajectory] = _demos()[:1]
    example = sft_example(trajectory, tokenizer)
    text = tokenizer.decode(example.tokens)
    assert text == tokenizer.render_chat([{"role": "user", "content": trajectory.messages[0].content},
                                          {"role": "assistant", "content": trajectory.messages[1].content}],
                                         add_generation_prompt=False)
    trained = tokenizer.decode(t for t, f in zip(example.tokens[1:], example.trained) if f)
    assert trained == trajectory.messages[1].content + "<|im_end|>\n"


@pytest.mark.slow
def test_sft_loss_falls():
    torch.manual_seed(0)
    tokenizer = CharTokenizer()
    model = Transformer(get_preset("tiny").replace(vocab_size=16))
    examples = [sft_example(t, tokenizer) for t in _demos()]
    before = float(sft_loss(model, examples, pad_id=0).detach())
    losses = train_sft(model, examples, pad_id=0, lr=3e-3, epochs=15, batch_size=4)
    after = float(sft_loss(model, examples, pad_id=0).detach())
    assert after < 0.3 * before, (before, after, losses[-3:])
