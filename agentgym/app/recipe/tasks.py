"""The recipe's task sets: one held-out split per env, made once at the start of a run and used by every stage.

For each env of every domain the pool is its training source (its `tasks` file, else
``sample_tasks(num_tasks, seed=task_seed)``); `split_heldout(pool, eval.num_tasks, seed=eval.seed)` holds tasks out
(or the env's own `heldout_tasks` file is the held-out set). The sides are written to ``RUN/tasks/<env>.train.jsonl``
and ``RUN/tasks/<env>.heldout.jsonl`` with ``RUN/tasks/split.json`` last, so a resumed run reads them back. Every GRPO
stage trains on the train file with the held-out file as its `heldout_tasks` (the trainer refuses overlap too), the
cold start and distillation draw their tasks from the train side, and every evaluation plays the held-out file. The
RPT stage's own pool loses every held-out task of its env (``RUN/tasks/stage-rpt.<env>.train.jsonl``).
`check_disjoint` runs over every env, demonstration set and held-in set before any stage.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.api import Env, Task
from agentgym.app.recipe.config import RecipeConfig
from agentgym.app.recipe.stages import read_json, write_json_atomic
from agentgym.heldout import HeldoutOverlapError, check_disjoint, content_hash, split_heldout
from agentgym.registry import make
from agentgym.rl.config import ConfigError, EnvMix
from agentgym.taskio import load_tasks, save_tasks
from agentgym.tasksource import (
    RELATIVE_PATH_KEYS,
    describe_source,
    is_relative_path,
    merge_env_kwargs,
    read_task_file,
    source_tasks,
)

TASK_DIR = "tasks"
"""The run directory's folder of task files."""
MANIFEST = "split.json"
"""Written last into `TASK_DIR`: what the split was made from, and how; a run with it reuses the files."""
SPLIT_KEYS = ("name", "kwargs", "num_tasks", "task_seed", "tasks", "heldout_tasks")
"""The `EnvMix` fields a split depends on (weights and β may change with ``--from-stage``; these may not)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EnvSplit:
    """One env's sides: `train` and `heldout` (one copy of each task id: a task file's ids are unique, and a
    generator that cycles its set, e.g. general's 200 tasks for `num_tasks: 256`, repeats them), how they were made."""

    env: str
    train: list[Task]
    heldout: list[Task]
    how: str
    source: str


@dataclass(kw_only=True, slots=True)
class RecipeTasks:
    """Every task set of a recipe run.

    Attributes:
        splits: each domain env's split.
        rpt_train: the RPT stage's training tasks (its pool minus every held-out task of its env), or None.
        kwargs: env name -> `make()` kwargs: the config's plus what its task source needs (`TaskFile.env_kwargs`).
        num_demos / num_held_in: cold-start demonstrations and distillation tasks per env, from the train side.
        rpt_env: the RPT stage's env, or None.
        task_dir: where the files are (None until `write`).
    """

    splits: dict[str, EnvSplit]
    rpt_train: list[Task] | None
    kwargs: dict[str, dict[str, Any]]
    num_demos: int
    num_held_in: int
    rpt_env: str | None = None
    task_dir: Path | None = None

    def training(self, env: str) -> list[Task]:
        """The train side of `env` (for an env only the RPT stage uses: that stage's pool)."""
        if env in self.splits:
            return self.splits[env].train
        if self.rpt_train is not None:
            return self.rpt_train
        raise KeyError(f"no training tasks for env {env!r}")

    def demos(self, env: str) -> list[Task]:
        """The cold start's demonstration tasks: the first `num_demos` distinct tasks of the train side."""
        return _distinct(self.training(env))[: self.num_demos]

    def held_in(self, env: str) -> list[Task]:
        """Distillation's held-in tasks: the first `num_held_in` distinct tasks of the train side."""
        return _distinct(self.splits[env].train)[: self.num_held_in]

    def heldout(self, env: str) -> list[Task]:
        return self.splits[env].heldout

    def file(self, env: str, side: str) -> Path:
        """``RUN/tasks/<env>.<side>.jsonl`` (side: "train" or "heldout"; "rpt" is the RPT stage's train file)."""
        if self.task_dir is None:
            raise ValueError("the task sets are not written yet (RecipeTasks.write)")
        return self.task_dir / (f"stage-rpt.{env}.train.jsonl" if side == "rpt" else f"{env}.{side}.jsonl")

    def mix(self, envs: list[EnvMix], *, rpt: bool = False) -> list[EnvMix]:
        """`envs` training on their train files, with their held-out files as `heldout_tasks` (the RPT stage: its
        own train file, and its env's held-out file when a domain evaluates it)."""
        out = []
        for e in envs:
            held = str(self.file(e.name, "heldout")) if e.name in self.splits else None
            train = self.file(e.name, "rpt" if rpt else "train")
            out.append(e.model_copy(update={"tasks": str(train), "heldout_tasks": held, "num_heldout": 0,
                                            "kwargs": self.kwargs[e.name]}))
        return out

    def check(self) -> None:
        """Refuse any held-out task that is also a training, RPT, demonstration or held-in task (id or content).

        Raises:
            HeldoutOverlapError: ``recipe: refusing to start: env 'general': held-out set overlaps ...``.
        """
        try:
            for name, split in self.splits.items():
                check_disjoint(split.train, split.heldout, demo_tasks=self.demos(name), env=name)
                check_disjoint(self.held_in(name), split.heldout, env=f"{name} (distillation's held-in tasks)")
                if self.rpt_train is not None and self.rpt_env == name:
                    check_disjoint(self.rpt_train, split.heldout, env=f"{name} (the rpt stage's pool)")
        except HeldoutOverlapError as e:
            raise HeldoutOverlapError(f"recipe: refusing to start: {e}") from None

    def write(self, task_dir: Path, spec: dict[str, Any]) -> None:
        """Write every file atomically, then `MANIFEST` (so a crash before it leaves a split that is made again)."""
        task_dir.mkdir(parents=True, exist_ok=True)
        self.task_dir = task_dir
        for name, split in self.splits.items():
            save_tasks(self.file(name, "train"), split.train)
            save_tasks(self.file(name, "heldout"), split.heldout)
        if self.rpt_train is not None and self.rpt_env is not None:
            save_tasks(self.file(self.rpt_env, "rpt"), self.rpt_train)
        write_json_atomic(task_dir / MANIFEST, {
            "spec": spec, "rpt_env": self.rpt_env, "num_demos": self.num_demos, "num_held_in": self.num_held_in,
            "kwargs": self.kwargs,
            "envs": {n: {"train": len(s.train), "heldout": len(s.heldout), "how": s.how, "source": s.source}
                     for n, s in self.splits.items()}})


def split_spec(config: RecipeConfig) -> dict[str, Any]:
    """What the split is made from (stored in `MANIFEST`; a resumed run with another spec is refused)."""
    envs = [e for s in config.domains.values() for e in s.envs]
    return {"eval": {"num_tasks": config.eval.num_tasks, "seed": config.eval.seed},
            "envs": {e.name: e.model_dump(mode="json", include=set(SPLIT_KEYS)) for e in envs},
            "rpt": None if config.rpt is None else config.rpt.env.model_dump(mode="json", include=set(SPLIT_KEYS))}


def build_task_sets(config: RecipeConfig, make_env: Callable[..., Env] = make) -> RecipeTasks:
    """Every env's pool and split, the RPT stage's pool, checked disjoint; writes nothing.

    Raises:
        ConfigError: a task source that cannot serve, or a split that leaves nothing to train on.
        HeldoutOverlapError: a held-out task is also a training, RPT, demonstration or held-in task.
    """
    splits: dict[str, EnvSplit] = {}
    kwargs: dict[str, dict[str, Any]] = {}
    for section in config.domains.values():
        for spec in section.envs:
            pool, kwargs[spec.name] = _pool(spec, make_env)
            try:
                if spec.heldout_tasks is not None:
                    held_file = read_task_file(spec.heldout_tasks, env=spec.name)
                    kwargs[spec.name] = merge_env_kwargs(spec.name, kwargs[spec.name], [held_file])
                    held = _absolute(list(held_file.tasks), held_file.root)
                    train, how = pool, f"file {spec.heldout_tasks} ({len(held)} tasks), checked disjoint"
                else:
                    split = split_heldout(pool, config.eval.num_tasks, seed=config.eval.seed)
                    train, held, how = split.train, split.heldout, split.describe()
            except HeldoutOverlapError:
                raise
            except ValueError as e:  # TaskSourceError, a split too large
                raise ConfigError(f"recipe: env {spec.name!r}: {e}") from None
            source = describe_source(spec.tasks, num_tasks=spec.num_tasks, seed=spec.task_seed)
            splits[spec.name] = EnvSplit(env=spec.name, train=_distinct(train), heldout=held, how=how, source=source)
    rpt_train, rpt_env = None, None
    if config.rpt is not None:
        rpt_env = config.rpt.env.name
        pool, rpt_kwargs = _pool(config.rpt.env, make_env)
        kwargs.setdefault(rpt_env, rpt_kwargs)
        rpt_train = _distinct(_without(pool, splits[rpt_env].heldout) if rpt_env in splits else pool)
        if not rpt_train:
            raise ConfigError(f"recipe: rpt.env: no training tasks left once {rpt_env!r}'s held-out set is removed")
    tasks = RecipeTasks(splits=splits, rpt_train=rpt_train, kwargs=kwargs,
                        num_demos=config.cold_start.num_demos if config.cold_start else 0,
                        num_held_in=config.distill.num_tasks, rpt_env=rpt_env)
    tasks.check()
    return tasks


def prepare_tasks(config: RecipeConfig, run_dir: Path, *, make_env: Callable[..., Env] = make) -> RecipeTasks:
    """The run's task sets: read back from ``RUN/tasks`` when its `MANIFEST` exists, else built and written.

    Raises:
        ConfigError: ``RUN/tasks`` was split from another config (redo from the first stage or use a new run).
        HeldoutOverlapError: see `build_task_sets` (also checked for files read back).
    """
    task_dir = Path(run_dir) / TASK_DIR
    spec = split_spec(config)
    if not (task_dir / MANIFEST).is_file():
        if task_dir.exists():
            shutil.rmtree(task_dir)  # a split interrupted before its manifest: made again
        tasks = build_task_sets(config, make_env)
        tasks.write(task_dir, spec)
        return tasks
    manifest = read_json(task_dir / MANIFEST)
    if manifest["spec"] != spec:
        changed = sorted(k for k in spec["envs"] | manifest["spec"]["envs"]
                         if spec["envs"].get(k) != manifest["spec"]["envs"].get(k))
        changed += [k for k in ("eval", "rpt") if spec[k] != manifest["spec"][k]]
        raise ConfigError(f"{task_dir} was split from another config (changed: {', '.join(changed)}); use a new "
                          f"--out, or --from-stage base to make the split again")
    splits = {name: EnvSplit(env=name, train=load_tasks(task_dir / f"{name}.train.jsonl"),
                             heldout=load_tasks(task_dir / f"{name}.heldout.jsonl"), how=e["how"], source=e["source"])
              for name, e in manifest["envs"].items()}
    rpt_env = manifest["rpt_env"]
    tasks = RecipeTasks(splits=splits, kwargs=manifest["kwargs"], task_dir=task_dir,
                        rpt_train=load_tasks(task_dir / f"stage-rpt.{rpt_env}.train.jsonl") if rpt_env else None,
                        num_demos=config.cold_start.num_demos if config.cold_start else 0,
                        num_held_in=config.distill.num_tasks, rpt_env=rpt_env)
    tasks.check()
    return tasks


def _pool(spec: EnvMix, make_env: Callable[..., Env]) -> tuple[list[Task], dict[str, Any]]:
    """(the env's pool with relative data paths made absolute, its make() kwargs incl. its task file's needs)."""
    try:
        file = read_task_file(spec.tasks, env=spec.name) if spec.tasks is not None else None
        kwargs = merge_env_kwargs(spec.name, spec.kwargs, [file] if file is not None else [])
        env = make_env(spec.name, **kwargs)
        try:
            pool = source_tasks(env, name=spec.name, tasks=spec.tasks, num_tasks=spec.num_tasks, seed=spec.task_seed)
            base = file.root if file is not None else _env_root(env, spec.name)
        finally:
            asyncio.run(env.close())
    except HeldoutOverlapError:
        raise
    except ValueError as e:  # TaskSourceError
        raise ConfigError(f"recipe: env {spec.name!r}: {e}") from None
    return _absolute(pool, base), kwargs


def _env_root(env: Env, name: str) -> Path | None:
    """Where a generator's relative data paths point: the env's `root`, or general's built-in task set."""
    root = getattr(env, "root", None)
    if root is None and name == "general":
        from agentgym.envs.general.builtin import builtin_root

        root = builtin_root()
    return None if root is None else Path(root)


def _absolute(tasks: list[Task], base: Path | None) -> list[Task]:
    """`tasks` with relative ``env_dir``/``repo`` paths made absolute under `base`, so they play from any file."""
    if base is None:
        return tasks
    out = []
    for t in tasks:
        fix = {k: str(Path(base).resolve() / t.data[k]) for k in RELATIVE_PATH_KEYS if is_relative_path(t.data.get(k))}
        out.append(t.model_copy(update={"data": {**t.data, **fix}}) if fix else t)
    return out


def _without(pool: list[Task], heldout: list[Task]) -> list[Task]:
    """`pool` minus every task sharing an id or a content hash with a held-out task."""
    ids, hashes = {t.id for t in heldout}, {content_hash(t) for t in heldout}
    return [t for t in pool if t.id not in ids and content_hash(t) not in hashes]


def _distinct(tasks: list[Task]) -> list[Task]:
    """One copy of each task id, in order."""
    seen: set[str] = set()
    return [t for t in tasks if not (t.id in seen or seen.add(t.id))]
