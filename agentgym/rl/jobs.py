"""The two training jobs as plain functions: GRPO from a YAML config file (`train`) and cold-start SFT (`sft`).

`agentgym train` and `agentgym sft` (in `agentgym.app.train_cli`) only parse options and call these.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentgym.rl.config import load_config


def train(config_path: str | Path, *, resume: bool = False, out_dir: str | None = None,
          steps: int | None = None, progress: bool | None = None) -> tuple[list[dict[str, Any]], Path]:
    """Run the GRPO config at `config_path` (a bad key or value raises `ConfigError` naming it).

    Returns the per-step metrics and the run directory (metrics.jsonl, checkpoints/, reward_curve.png).
    """
    from agentgym.rl.config import parse_config
    from agentgym.rl.trainer import GRPOTrainer

    config = load_config(config_path)
    changes: dict[str, Any] = {}
    if out_dir is not None:
        changes["out_dir"] = out_dir
    if steps is not None:
        changes["steps"] = steps
    if progress is not None:
        changes["progress"] = progress
    if changes:
        config = parse_config({**config.model_dump(), **changes}, source=str(config_path))
    records = GRPOTrainer(config).train(resume=resume)
    return records, Path(config.out_dir)


def sft(*, envs: list[str], policy: str, model: str = "smollm2-135m", out_dir: str | Path = "runs/sft",
        num_tasks: int = 32, num_samples: int = 4, min_reward: float = 1.0, max_turns: int = 8, epochs: int = 2,
        lr: float = 1e-5, batch_size: int = 8, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Cold-start SFT: rejection-sample with `policy` on `envs`, fine-tune `model` on the kept trajectories.

    Args:
        envs: registered env names; `num_tasks` tasks of each come from `env.sample_tasks(num_tasks, seed=seed)`.
        policy: "engine" (the model itself samples), "openai:MODEL@URL" or "scripted:FILE.jsonl".
        model: a pretrained name or HF checkpoint folder (`agentgym.model.load_pretrained`), or a preset name (random
            init, char tokenizer).
    Writes OUT/demos.jsonl (the kept trajectories) and OUT/model.safetensors (loadable as `model.checkpoint` in a
    train config). Returns a summary dict (episodes, kept, losses).
    """
    from agentgym.model import Engine, EngineConfig, load_pretrained
    from agentgym.model.checkpoint import save_checkpoint
    from agentgym.model.hf_folder import is_hf_folder
    from agentgym.model.pretrained import PRETRAINED
    from agentgym.registry import make
    from agentgym.rl.sft import rejection_sample, sft_example, train_sft
    from agentgym.rollout import TrajectoryWriter
    from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig
    from agentgym.rollout.specs import make_policy

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if model in PRETRAINED or is_hf_folder(model):
        net, tokenizer = load_pretrained(model)
    else:  # a model preset trained from its random init, with the char tokenizer (tests, toy runs)
        from agentgym.rl.build import build_model
        from agentgym.rl.config import parse_config

        net, tokenizer = build_model(parse_config({"envs": [{"name": envs[0]}], "model": {"preset": model}}))
    actor = (EnginePolicy(Engine(net, tokenizer, EngineConfig(max_seq_len=2048)), EnginePolicyConfig(seed=seed))
             if policy == "engine" else make_policy(policy))
    kept, examples, num_episodes = [], [], 0
    for name in envs:
        probe = make(name)
        tasks = probe.sample_tasks(num_tasks, seed=seed)
        tools = probe.tools()
        got = rejection_sample(lambda name=name: make(name), actor, tasks, num_samples=num_samples,
                               min_reward=min_reward, max_turns=max_turns, seed=seed, progress=progress)
        num_episodes += num_tasks * num_samples
        kept += got
        examples += [sft_example(t, tokenizer, tools) for t in got]
    writer = TrajectoryWriter(out / "demos.jsonl")
    for t in kept:
        writer.write(t)
    writer.finish()
    losses = train_sft(net, examples, pad_id=tokenizer.pad_id, lr=lr, epochs=epochs, batch_size=batch_size,
                       seed=seed) if examples else []
    save_checkpoint(net, str(out / "model.safetensors"))
    summary = {"episodes": num_episodes, "kept": len(kept), "losses": losses}
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary
