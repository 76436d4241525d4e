"""What every stage is made of: load a checkpoint, evaluate on held-out tasks, run GRPO, fine-tune, save weights.

Stages hand each other models as `model.safetensors` files (weights + model config, `agentgym.model.checkpoint`),
so any stage can start in a fresh process from its predecessor's folder.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from agentgym.api import Env
from agentgym.app.recipe.config import RecipeConfig, RunBudget
from agentgym.app.recipe.tasks import RecipeTasks
from agentgym.registry import make
from agentgym.rl.config import EnvMix

MODE_SUFFIX = {"direct": "", "thinking": " Think step by step before you give your final answer."}
"""What each distillation mode adds to the env's system prompt (`direct` keeps the env's own prompt)."""


def env_factory(kwargs: Mapping[str, Mapping[str, Any]], mode: str = "direct") -> Callable[[str], Env]:
    """env name -> a fresh env with its kwargs (`RecipeTasks.kwargs`: the config's plus what its task source needs)
    and the mode's system-prompt suffix."""

    def make_env(name: str) -> Env:
        env = make(name, **kwargs.get(name, {}))
        if MODE_SUFFIX[mode] and getattr(env, "system_prompt", None):
            env.system_prompt = env.system_prompt + MODE_SUFFIX[mode]  # type: ignore[attr-defined]
        return env

    return make_env


def load_model(config: RecipeConfig, checkpoint: str | Path | None) -> tuple[Any, Any]:
    """(model, tokenizer): the base model, with `checkpoint`'s weights when given, trainable layers set."""
    from agentgym.rl.build import build_model, set_trainable_layers

    if checkpoint is None:
        return build_model(config.train_config(config.mixed, config.mixed_envs(), out_dir=".", checkpoint=None))
    from agentgym.model.checkpoint import load_checkpoint

    model = load_checkpoint(str(checkpoint))  # weights + model config: no need to load the base weights first
    if config.model.trainable_layers is not None:
        set_trainable_layers(model, config.model.trainable_layers)
    return model, base_tokenizer(config.model.pretrained)


@functools.lru_cache(maxsize=4)
def base_tokenizer(pretrained: str | None) -> Any:
    """The base model's tokenizer (read once per process: a pretrained load takes seconds)."""
    if pretrained is None:
        from agentgym.model.char_tokenizer import CharTokenizer

        return CharTokenizer()
    from agentgym.model import load_pretrained

    return load_pretrained(pretrained)[1]


def save_model(model: Any, path: Path) -> Path:
    """Write the weights (and model config) to `path` atomically."""
    from agentgym.model.checkpoint import save_checkpoint

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    save_checkpoint(model, str(tmp))
    os.replace(tmp, path)
    return path


def greedy_policy(config: RecipeConfig, model: Any, tokenizer: Any, *, temperature: float = 0.0,
                  max_new_tokens: int | None = None, seed: int | None = None) -> Any:
    from agentgym.model import Engine, EngineConfig
    from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig

    m = config.model
    engine = Engine(model, tokenizer, EngineConfig(max_batch_size=m.max_batch, max_seq_len=m.max_seq_len))
    return EnginePolicy(engine, EnginePolicyConfig(temperature=temperature, max_batch=m.max_batch,
                                                   max_new_tokens=max_new_tokens or config.eval.max_new_tokens,
                                                   seed=config.seed if seed is None else seed))


def evaluate_domains(config: RecipeConfig, tasks: RecipeTasks, model: Any, tokenizer: Any,
                     domains: Sequence[str]) -> dict[str, Any]:
    """Held-out env reward of every held-out task (`tasks.heldout`) of every env of `domains`:
    {domain: {env: [reward, ...]}}."""
    from agentgym.eval.runner import evaluate

    make_env = env_factory(tasks.kwargs)
    policy = greedy_policy(config, model, tokenizer)
    envs = {e.name: d for d in domains for e in config.domains[d].envs}
    scores, _ = evaluate(policy, make_env, {name: tasks.heldout(name) for name in envs}, score=lambda t: float(t.reward), max_turns=config.eval.max_turns,
                         progress=config.progress)
    out: dict[str, dict[str, list[float]]] = {d: {} for d in domains}
    for name, values in scores.items():
        out[envs[name]][name] = values
    return out


def run_grpo(config: RecipeConfig, tasks: RecipeTasks, run: RunBudget, envs: list[EnvMix], out_dir: Path,
             checkpoint: str | Path | None, *, description: str, rpt: bool = False) -> tuple[Any, Any, list[dict]]:
    """One GRPO run on the train files of `envs` (the RPT stage's with `rpt`), each env's held-out file as its
    `heldout_tasks`; resumed from its own checkpoints when it was interrupted; writes OUT/model.safetensors.

    Returns the trained model, its tokenizer and every step's metrics (also in OUT/train/metrics.jsonl).
    """
    from agentgym.rl.trainer import GRPOTrainer

    train = config.train_config(run, tasks.mix(envs, rpt=rpt), out_dir=str(out_dir / "train"),
                                checkpoint=str(checkpoint) if checkpoint else None, source=description)
    model, tokenizer = load_model(config, checkpoint)
    trainer = GRPOTrainer(train, make_env=env_factory(tasks.kwargs), model=model, tokenizer=tokenizer)
    records = trainer.train(resume=True)
    save_model(trainer.model, out_dir / "model.safetensors")
    return trainer.model, trainer.tokenizer, records


def fine_tune(model: Any, tokenizer: Any, examples: list[Any], *, lr: float, epochs: int, batch_size: int,
              seed: int, description: str, progress: bool) -> list[float]:
    """SFT on `examples` (assistant tokens only) with a progress bar; returns the per-step losses."""
    from rich.progress import Progress

    from agentgym.rl.sft import train_sft

    if not examples:
        return []
    with Progress(disable=not progress) as bar:
        task = bar.add_task(description, total=epochs * -(-len(examples) // batch_size))
        return train_sft(model, examples, pad_id=tokenizer.pad_id, lr=lr, epochs=epochs, batch_size=batch_size,
                         seed=seed, on_step=lambda i, loss: bar.update(task, advance=1))
