"""Distillation: every specialist samples its own domain's held-in tasks, the successes train one generalist by SFT.

Rejection sampling keeps a trajectory iff its env reward reaches `distill.min_reward` (never one the env or the
infrastructure broke); with several modes each task is sampled once per mode (`thinking` adds a reason-first
instruction to the system prompt, which the kept examples carry, so the generalist learns both). SFT trains assistant tokens only: template, user and tool-output tokens are
masked. The samples of each domain are saved as soon as they exist, so an interrupted stage resumes after them.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

from agentgym.app.recipe.config import RecipeConfig
from agentgym.app.recipe.runs import (
    env_factory,
    fine_tune,
    greedy_policy,
    load_model,
    save_model,
)
from agentgym.app.recipe.stages import read_json, write_json_atomic
from agentgym.app.recipe.tasks import RecipeTasks
from agentgym.rollout import (
    RolloutConfig,
    TrajectoryWriter,
    read_trajectories,
    run_episodes,
)


def sample_domain(config: RecipeConfig, tasks: RecipeTasks, domain: str, specialist: Path,
                  out: Path) -> dict[str, Any]:
    """Rejection-sample the specialist on its domain's held-in tasks (`tasks.held_in`: the train side, never the
    held-out set); writes OUT (JSONL) and returns the counts."""
    d = config.distill
    model, tokenizer = load_model(config, specialist)
    policy = greedy_policy(config, model, tokenizer, temperature=d.temperature, max_new_tokens=d.max_new_tokens)
    kept, counts = [], {}
    for mode in d.modes:
        make_env = env_factory(tasks.kwargs, mode)
        for env in config.domains[domain].envs:
            held_in = tasks.held_in(env.name)
            rollout = RolloutConfig(num_samples=d.num_samples, max_turns=config.eval.max_turns, seed=config.seed,
                                    progress=config.progress)
            factory = functools.partial(make_env, env.name)
            played = asyncio.run(run_episodes(factory, policy, held_in, rollout))
            got = [t for t in played if t.reward >= d.min_reward and t.error != "env_error"]
            for t in got:
                t.info["mode"] = mode
            kept += got
            counts[f"{env.name}/{mode}"] = {"episodes": len(held_in) * d.num_samples, "kept": len(got)}
    writer = TrajectoryWriter(out)
    for t in kept:
        writer.write(t)
    writer.finish()
    return counts


def run_distill(config: RecipeConfig, tasks: RecipeTasks, stage: Path, specialists: dict[str, Path],
                start: Path | None) -> dict[str, Any]:
    """Sample every domain (skipping those already sampled), then SFT the start checkpoint on the union."""
    samples = stage / "samples"
    counts_path = stage / "counts.json"
    counts: dict[str, Any] = read_json(counts_path) if counts_path.is_file() else {}
    for domain, checkpoint in specialists.items():
        if domain in counts and (samples / f"{domain}.jsonl").is_file():
            continue
        counts[domain] = sample_domain(config, tasks, domain, checkpoint, samples / f"{domain}.jsonl")
        write_json_atomic(counts_path, counts)
    from agentgym.rl.sft import sft_example

    model, tokenizer = load_model(config, start)
    tools = {name: env_factory(tasks.kwargs)(name).tools() for name in config.env_kwargs()}
    examples = [sft_example(t, tokenizer, tools[t.env])
                for domain in specialists for t in read_trajectories(samples / f"{domain}.jsonl")]
    d = config.distill
    losses = fine_tune(model, tokenizer, examples, lr=d.lr, epochs=d.epochs, batch_size=d.batch_size,
                       seed=config.seed, description="distill SFT", progress=config.progress)
    save_model(model, stage / "model.safetensors")
    summary = {"counts": counts, "num_examples": len(examples), "losses": losses}
    write_json_atomic(stage / "summary.json", summary)
    return {"model": model, "tokenizer": tokenizer, **summary}
