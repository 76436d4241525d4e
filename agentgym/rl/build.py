"""Build what a run needs from its config: the model and tokenizer, the env factory, the task pools."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch

from agentgym.api import Env
from agentgym.rl.config import TrainConfig
from agentgym.rl.sampler import EnvPool

EnvFactory = Callable[[str], Env]


def build_model(config: TrainConfig) -> tuple[Any, Any]:
    """(model, tokenizer): a named pretrained model or HF checkpoint folder, or a preset initialized from `init_seed`
    with the char tokenizer; with `model.lora`, LoRA adapters injected and the base frozen."""
    from agentgym.model import Transformer, get_preset, load_pretrained

    section = config.model
    if section.pretrained:
        model, tokenizer = load_pretrained(section.pretrained)
    else:
        from agentgym.model.char_tokenizer import CharTokenizer

        tokenizer = CharTokenizer()
        cfg = get_preset(section.preset).replace(**section.overrides)
        if cfg.vocab_size < tokenizer.vocab_size:
            raise ValueError(f"model.overrides: vocab_size {cfg.vocab_size} < the char tokenizer's "
                             f"{tokenizer.vocab_size}")
        torch.manual_seed(section.init_seed)
        model = Transformer(cfg)
    if section.checkpoint:
        from agentgym.model.checkpoint import load_checkpoint

        model = load_checkpoint(section.checkpoint)
    model = model.to(getattr(torch, section.dtype))
    model.eval()  # no dropout anywhere; eval keeps the MoE load counters out of training
    if section.trainable_layers is not None:
        set_trainable_layers(model, section.trainable_layers)
    if section.lora is not None:
        from agentgym.rl.lora import apply_lora

        lora = section.lora
        apply_lora(model, r=lora.r, alpha=lora.alpha, dropout=lora.dropout, target_modules=lora.target_modules)
    return model, tokenizer


def compute_context(config: TrainConfig) -> contextlib.AbstractContextManager:
    """Where the trainer's forwards run: CPU autocast to bf16 for `model.compute_dtype: bfloat16` over fp32 weights
    (mixed precision; backward then follows the recorded dtypes), else no change. No weight-cast cache: a cached bf16
    copy of every weight would live through the whole forward."""
    section = config.model
    if section.compute_dtype == "bfloat16" and section.dtype == "float32":
        return torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


def set_trainable_layers(model: torch.nn.Module, num_layers: int) -> None:
    """Freeze everything but the last `num_layers` blocks and the final norm (the head too when it is not tied)."""
    for p in model.parameters():
        p.requires_grad_(False)
    for block in list(model.layers)[len(model.layers) - num_layers:] if num_layers else []:
        for p in block.parameters():
            p.requires_grad_(True)
    for p in model.norm.parameters():
        p.requires_grad_(True)
    if model.head is not None:
        for p in model.head.parameters():
            p.requires_grad_(True)


def default_env_factory(config: TrainConfig) -> EnvFactory:
    """name -> `agentgym.make(name, **kwargs)` with the kwargs of that env's mix entry (and its task files' needs)."""
    from agentgym.registry import make
    from agentgym.rl.pools import env_kwargs

    kwargs = {e.name: env_kwargs(e) for e in config.envs}  # plus what task files need, e.g. general's root
    factory: EnvFactory = lambda name: make(name, **kwargs.get(name, {}))  # noqa: E731
    mixes = {e.name: e.reward for e in config.envs if e.reward.uses_rubric}
    if not mixes:  # the default: the env's verifier reward alone
        return factory
    from agentgym.rl.rubric_env import rubric_env_factory

    return rubric_env_factory(factory, mixes, group_size=config.group_size)  # rubric rewards (agentgym.rl.rubric)


def build_pools(config: TrainConfig, make_env: EnvFactory) -> tuple[list[EnvPool], dict[str, frozenset[str]]]:
    """(one training pool per env of the mix, from its task source minus its held-out set; each env's tool names)."""
    from agentgym.rl.pools import build_run_tasks

    run = build_run_tasks(config, make_env)
    return run.pools, run.tools
