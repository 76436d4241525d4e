"""Cold-start SFT: rejection-sample successful trajectories with any policy, then fine-tune on assistant tokens only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from agentgym.api import Env, Task, ToolSpec, Trajectory
from agentgym.rollout import RolloutConfig, run_episodes
from agentgym.rollout.compute_thread import run_episodes_loop
from agentgym.rollout.engine_policy import message_to_chat


def rejection_sample(make_env: Callable[[], Env], policy: Any, tasks: Sequence[Task], *, num_samples: int = 4,
                     min_reward: float = 1.0, max_turns: int = 8, seed: int = 0,
                     progress: bool = False) -> list[Trajectory]:
    """Play every task `num_samples` times and keep the trajectories whose reward is at least `min_reward`
    (and that did not fail for infrastructure reasons)."""
    config = RolloutConfig(num_samples=num_samples, max_turns=max_turns, seed=seed, progress=progress)
    trajectories = run_episodes_loop(lambda: run_episodes(make_env, policy, tasks, config))
    return [t for t in trajectories if t.reward >= min_reward and t.error != "env_error"]


@dataclass(slots=True)
class SFTExample:
    """Token ids and, per target position (len − 1), 1 where the target is an assistant token."""

    tokens: list[int]
    trained: list[int]


def sft_example(trajectory: Trajectory, tokenizer: Any, tools: Sequence[ToolSpec] = ()) -> SFTExample:
    """Render the conversation with the chat template; only the assistant messages (and their end token) are trained.

    Each assistant message's span is the text between the rendered prefix with its generation prompt and the
    rendered conversation through that message, so template tokens, user turns and tool outputs are never trained.
    """
    chat = [message_to_chat(m) for m in trajectory.messages]
    tool_dicts = [t.to_openai() for t in tools] or None
    tokens: list[int] = []
    trained: list[int] = []
    done = ""

    def add(text: str, flag: int) -> None:
        ids = tokenizer.encode(text)
        for t in ids:
            if tokens:
                trained.append(flag)
            tokens.append(t)

    for i, m in enumerate(chat):
        if m["role"] != "assistant":
            continue
        prefix = tokenizer.render_chat(chat[:i], tool_dicts, add_generation_prompt=True)
        through = tokenizer.render_chat(chat[: i + 1], tool_dicts, add_generation_prompt=False)
        if not prefix.startswith(done) or not through.startswith(prefix):
            raise ValueError("sft_example: the chat template does not render conversations as growing prefixes")
        add(prefix[len(done):], 0)
        add(through[len(prefix):], 1)
        done = through
    return SFTExample(tokens=tokens, trained=trained)


def sft_loss(model: torch.nn.Module, examples: Sequence[SFTExample], *, pad_id: int,
             kernel_path: str | None = None) -> torch.Tensor:
    """Mean negative log-likelihood of the trained (assistant) targets of a batch of examples."""
    from agentgym.model.kernels import linear_logprob

    width = max(len(e.tokens) for e in examples)
    tokens = torch.full((len(examples), width), pad_id, dtype=torch.int64)
    mask = torch.zeros(len(examples), width - 1)
    for i, e in enumerate(examples):
        tokens[i, : len(e.tokens)] = torch.tensor(e.tokens)
        mask[i, : len(e.trained)] = torch.tensor(e.trained, dtype=torch.float32)
    hidden = model.norm(model(tokens, compute_logits=False).hidden[:, :-1])
    weight = model.output_weight
    b, t = mask.shape
    rows = (mask.reshape(-1) > 0).nonzero().squeeze(-1)  # only assistant targets need the vocab projection
    logprobs, _ = linear_logprob(hidden.reshape(b * t, -1)[rows], weight, tokens[:, 1:].reshape(-1)[rows],
                                 path=kernel_path)
    return -logprobs.sum() / max(1, rows.numel())


def train_sft(model: torch.nn.Module, examples: Sequence[SFTExample], *, pad_id: int, lr: float = 1e-4,
              epochs: int = 1, batch_size: int = 8, seed: int = 0, grad_clip: float = 1.0,
              on_step: Callable[[int, float], None] | None = None, max_steps: int | None = None) -> list[float]:
    """AdamW over shuffled minibatches (`epochs` passes, or at most `max_steps` optimizer steps); returns the loss of
    every optimizer step."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(examples), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            if max_steps is not None and len(losses) >= max_steps:
                return losses
            loss = sft_loss(model, [examples[i] for i in order[start:start + batch_size]], pad_id=pad_id)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            losses.append(float(loss.detach()))
            if on_step is not None:
                on_step(len(losses) - 1, losses[-1])
    return losses
