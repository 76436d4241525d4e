"""`RecipeConfig`: every knob of the V3.2 recipe (model, cold start, RPT, domains, distillation, mixed RL, eval).

Each GRPO run of the recipe is an ordinary `TrainConfig` built from three layers: the recipe-wide `train` section,
then the stage's own section (domain, `rpt` or `mixed`), then the stage's `train` overrides. All of them are built
and validated when the file is read, so a bad key anywhere fails before the first stage starts, with one line that
names it (the message style of `agentgym train`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from agentgym.model.sampling_params import DEFAULT_MAX_NEW_TOKENS
from agentgym.rl.config import ConfigError, EnvMix, ModelSection, TrainConfig, _describe, _Section, parse_config
from agentgym.rl.config import read_yaml

MODES = ("direct", "thinking")
"""Distillation modes: `direct` keeps each env's own prompt; `thinking` asks for step-by-step reasoning first."""


class RunBudget(_Section):
    """The size of one GRPO run."""

    steps: int = Field(8, ge=1)
    groups_per_step: int = Field(2, ge=1)
    group_size: int = Field(4, ge=2)
    lr: float = Field(3e-5, gt=0)
    time_budget_s: float | None = Field(None, gt=0)
    """Stop after the step during which the run passed this many seconds (None: all steps)."""
    train: dict[str, Any] = Field(default_factory=dict)
    """Extra `TrainConfig` fields for this run only (deep-merged over the recipe-wide `train`)."""


class ColdStartSection(_Section):
    """Optional SFT on each env's reference solutions before anything else (a raw small model scores 0 otherwise)."""

    num_demos: int = Field(6, ge=1)
    """Demonstrations per env of every domain: the first distinct tasks of the env's training side of the split
    (never a held-out task; `agentgym.app.recipe.tasks`)."""
    epochs: int = Field(4, ge=1)
    lr: float = Field(3e-4, gt=0)
    batch_size: int = Field(6, ge=1)


class RptSection(RunBudget):
    """Optional Reinforcement Pre-Training: GRPO on the `rpt` env over a text corpus."""

    env: EnvMix = Field(default_factory=lambda: EnvMix(name="rpt", num_tasks=64))
    """The RPT env (`kwargs: {task_file: corpus_tasks.jsonl}` points it at your corpus)."""


class DomainSection(RunBudget):
    """One specialist domain: its env mix, KL β and budgets; also its share of the mixed-RL stage."""

    envs: list[EnvMix] = Field(min_length=1)
    kl_beta: float | None = Field(None, ge=0)
    """β of the unbiased KL for this domain's sequences, in its specialist run and in mixed RL (None: each env's own
    `kl_beta`, whose default is `EnvMix`'s)."""
    weight: float = Field(1.0, gt=0)
    """The domain's sampling weight in mixed RL (split over its envs by their own weights)."""


class DistillSection(_Section):
    """Rejection-sampled distillation of the specialists into one generalist."""

    num_tasks: int = Field(16, ge=1)
    """Held-in tasks per env: the first distinct tasks of the env's training side of the split."""
    num_samples: int = Field(2, ge=1)
    """Samples per task and mode."""
    min_reward: float = 1.0
    """Keep a trajectory iff its env reward is at least this (rejection sampling)."""
    modes: list[Literal["direct", "thinking"]] = Field(default_factory=lambda: ["direct"], min_length=1)
    temperature: float = Field(0.7, ge=0)
    max_new_tokens: int | None = Field(None, ge=1)
    """Completion length while sampling (None: the eval length)."""
    epochs: int = Field(2, ge=1)
    lr: float = Field(1e-4, gt=0)
    batch_size: int = Field(8, ge=1)


class EvalSection(_Section):
    """Held-out evaluation after every stage: greedy, one sample per task."""

    num_tasks: int = Field(8, ge=1)
    """Held-out tasks per env, split off the env's training pool by `agentgym.heldout.split_heldout` (an env's own
    `heldout_tasks` file replaces the split); every stage trains and draws demonstrations from the rest only."""
    seed: int = 10_000
    """Seed of the held-out split (a seeded rank of each task's content hash)."""
    max_new_tokens: int = Field(DEFAULT_MAX_NEW_TOKENS, ge=1)
    max_turns: int = Field(1, ge=1)


class RecipeConfig(_Section):
    """A whole recipe run. `domains` is the only required section."""

    model: ModelSection = Field(default_factory=ModelSection)
    """The starting model: a train config's `model` section; its `checkpoint` is each stage's own, so it stays unset."""
    seed: int = 0
    train: dict[str, Any] = Field(default_factory=dict)
    """`TrainConfig` fields shared by every GRPO run (sampling, loss, techniques, reward, optim, ...)."""
    cold_start: ColdStartSection | None = None
    rpt: RptSection | None = None
    domains: dict[str, DomainSection] = Field(min_length=1)
    distill: DistillSection = Field(default_factory=DistillSection)
    mixed: RunBudget = Field(default_factory=RunBudget)
    eval: EvalSection = Field(default_factory=EvalSection)
    progress: bool = True

    @field_validator("model")
    @classmethod
    def _no_checkpoint(cls, model: ModelSection) -> ModelSection:
        if model.checkpoint is not None:
            raise ValueError("checkpoint is set by each stage (the previous stage's weights); leave it out")
        return model

    # the GRPO runs, as train configs
    def train_config(self, run: RunBudget, envs: list[EnvMix], *, out_dir: str, checkpoint: str | None,
                     source: str = "recipe") -> TrainConfig:
        """The `TrainConfig` of one GRPO run: recipe-wide `train`, then the run's budget, then its `train`."""
        data: dict[str, Any] = _merge(self.train, {
            "envs": [e.model_dump() for e in envs],
            "model": {**self.model.model_dump(), "checkpoint": checkpoint},
            "steps": run.steps, "groups_per_step": run.groups_per_step, "group_size": run.group_size,
            "optim": {"lr": run.lr}, "time_budget_s": run.time_budget_s, "seed": self.seed,
            "out_dir": out_dir, "progress": self.progress,
        })
        return parse_config(_merge(data, run.train), source=source)

    def domain_envs(self, name: str) -> list[EnvMix]:
        """A domain's envs with the domain's β (when it sets one)."""
        section = self.domains[name]
        if section.kl_beta is None:
            return list(section.envs)
        return [e.model_copy(update={"kl_beta": section.kl_beta}) for e in section.envs]

    def mixed_envs(self) -> list[EnvMix]:
        """Every domain's envs, weighted so each domain gets `weight / Σ weights` of the groups, with its β."""
        out = []
        for name, section in self.domains.items():
            total = sum(e.weight for e in section.envs)
            out += [e.model_copy(update={"weight": section.weight * e.weight / total}) for e in self.domain_envs(name)]
        return out

    def env_kwargs(self) -> dict[str, dict[str, Any]]:
        """env name -> `make()` kwargs, over every env the recipe uses."""
        envs = [e for s in self.domains.values() for e in s.envs] + ([self.rpt.env] if self.rpt else [])
        return {e.name: e.kwargs for e in envs}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def parse_recipe(data: Any, *, source: str = "recipe") -> RecipeConfig:
    """Validate a dict and every GRPO run it implies; raises `ConfigError` with one line naming each bad key."""
    try:
        config = RecipeConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{source}: {_describe(e)}") from None
    seen: dict[str, str] = {}
    for domain, section in config.domains.items():
        for env in section.envs:
            if env.name in seen:
                raise ConfigError(f"{source}: domains.{domain}.envs: env {env.name!r} is already in domain "
                                  f"{seen[env.name]!r}; an env may belong to one domain only")
            seen[env.name] = domain
            if env.num_heldout:
                raise ConfigError(f"{source}: domains.{domain}.envs: env {env.name!r} sets num_heldout; the recipe "
                                  f"holds out eval.num_tasks tasks of every env (or its heldout_tasks file)")
            if config.rpt is not None and config.rpt.env.name == env.name and config.rpt.env.kwargs != env.kwargs:
                raise ConfigError(f"{source}: rpt.env.kwargs: env {env.name!r} has other kwargs in domain "
                                  f"{domain!r}; one env name has one set of kwargs in a recipe")
    for name, domain in config.domains.items():
        config.train_config(domain, config.domain_envs(name), out_dir=".", checkpoint=None,
                            source=f"{source}: domains.{name}")
    if config.rpt is not None:
        config.train_config(config.rpt, [config.rpt.env], out_dir=".", checkpoint=None, source=f"{source}: rpt")
    config.train_config(config.mixed, config.mixed_envs(), out_dir=".", checkpoint=None, source=f"{source}: mixed")
    return config


def load_recipe(path: str | Path) -> RecipeConfig:
    """Read a YAML recipe config."""
    return parse_recipe(read_yaml(path), source=str(path))
