"""`agentgym quickstart`: SmolLM2-135M learns a multi-turn tool-use task on a 2-core CPU, and the report shows it.

The job (DeepSeek's recipe in miniature, measured; docs/results/quickstart.md):
  1. one task pool per env, split by `agentgym.heldout.split_heldout` into training tasks and ≥ 64 held-out tasks
     (disjoint by id and content; the demonstrations come from the training side; `check_disjoint` refuses overlap);
  2. base row: the untouched model on the held-out tasks (greedy, the same turn and token budget as every row);
  3. cold start: SFT on a few full multi-turn reference trajectories (arith: calculator → read the result →
     submit), assistant tokens only — few enough that SFT alone does not saturate the task;
  4. SFT-only row: the same held-out evaluation (the ablation: same data, no RL);
  5. multi-turn GRPO on the training tasks (tool results come back as observations, env reward only);
  6. SFT + GRPO row, the GRPO gain over SFT-only with a paired-bootstrap interval, per-step collapse metrics,
     rendered held-out episodes, wall time and peak RSS (report: `quickstart_report.py`).
Every reported score is the env's own reward on held-out tasks; shaping, if switched on, only trains.

`agentgym quickstart --scripted` runs `run_scripted_quickstart` instead: a few seconds of `arith` episodes with a
scripted calculator→submit policy, checking registry → env → tools → agent loop → JSONL on a fresh machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.api import Env, Task, Trajectory
from agentgym.registry import make

QUICKSTART_ENVS: dict[str, dict[str, Any]] = {"arith": {"difficulty": 2, "max_turns": 3}}
"""The mix: env name -> make() kwargs. arith at difficulty 2 (two operations, e.g. `(41 + 99) * 3`): a 135M model
cannot compute it, so it must call the calculator, read the result and submit it — three turns, two tool calls."""


@dataclass(kw_only=True, slots=True)
class QuickstartConfig:
    """The knobs of the quickstart job (defaults sized for ≤ 15 minutes and ≤ 2.5 GiB on 2 CPU cores).

    Attributes:
        envs: env name -> make() kwargs.
        out_dir: where the report, metrics, PNG, task files and checkpoints go.
        pool_size: tasks generated per env (seed `seed`) before the held-out split.
        num_heldout: held-out tasks per env (each row is evaluated on all of them).
        num_demos: reference trajectories per env for the cold start; sft_steps / sft_batch / sft_lr: the SFT.
        steps, groups_per_step, group_size, lr, temperature: the GRPO run (the wall-clock budget may stop it early).
        total_budget_s: GRPO stops after the step that leaves less than an evaluation's time (the SFT-only row's)
            before this budget, so the whole job stays within it.
        trainable_layers: train only the last N of SmolLM2's 30 blocks (and the final norm).
        max_turns, max_new_tokens: the budget of every episode (training and all three evaluations alike).
        max_seq_len: positions per engine row and per training sequence (an episode's prompt, replies and tool
            results must fit; arith's three turns take ~450).
        format_weight: shaping reward added to the env reward during GRPO only (never in a reported score).
        num_rendered: held-out episodes per env rendered into the report.
    """

    envs: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(QUICKSTART_ENVS))
    out_dir: str = "runs/quickstart"
    pool_size: int = 256
    num_heldout: int = 64
    num_demos: int = 8
    sft_steps: int = 4
    sft_batch: int = 4
    sft_lr: float = 3e-4
    steps: int = 8
    groups_per_step: int = 4
    group_size: int = 8
    lr: float = 2e-5
    temperature: float = 0.8
    total_budget_s: float = 840.0
    trainable_layers: int = 6
    max_turns: int = 3
    max_new_tokens: int = 40
    max_seq_len: int = 768
    format_weight: float = 0.0
    num_rendered: int = 2
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("pool_size", "num_heldout", "num_demos", "sft_steps", "sft_batch", "steps", "groups_per_step",
                     "max_turns", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"QuickstartConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise ValueError(f"QuickstartConfig.group_size must be >= 2, got {self.group_size}")
        if self.num_heldout + self.num_demos > self.pool_size:
            raise ValueError(f"QuickstartConfig: pool_size {self.pool_size} cannot hold {self.num_heldout} held-out "
                             f"tasks and {self.num_demos} demonstrations")
        if not self.envs:
            raise ValueError("QuickstartConfig.envs is empty")


@dataclass(slots=True)
class QuickstartResult:
    """Held-out env rewards per row (base, sft, grpo) and env, the GRPO metrics, the report and the phase times."""

    scores: dict[str, dict[str, list[float]]]
    records: list[dict[str, Any]]
    report: Path
    seconds: dict[str, float] = field(default_factory=dict)
    heldout: dict[str, list[Task]] = field(default_factory=dict)


def split_tasks(q: QuickstartConfig, make_env: Callable[[str], Env]) -> tuple[dict, dict, dict, dict[str, str]]:
    """(training tasks, held-out tasks, demonstration tasks, how each split was made) per env; refuses overlap."""
    from agentgym.heldout import check_disjoint, split_heldout

    train, heldout, demos, how = {}, {}, {}, {}
    for name in q.envs:
        split = split_heldout(make_env(name).sample_tasks(q.pool_size, seed=q.seed), q.num_heldout, seed=q.seed)
        distinct = list({t.id: t for t in split.train}.values())  # a task file holds each id once
        train[name], heldout[name], demos[name] = distinct, split.heldout, distinct[: q.num_demos]
        check_disjoint(train[name], heldout[name], demo_tasks=demos[name], env=name)
        how[name] = split.describe()
    return train, heldout, demos, how


def run_quickstart(config: QuickstartConfig | None = None) -> QuickstartResult:
    """Run the whole job; writes OUT/report.md, OUT/eval.json, OUT/metrics.jsonl, OUT/reward_curve.png, the task
    files and each row's held-out trajectories (OUT/eval_<row>.jsonl, readable with `agentgym show`)."""
    import torch

    from agentgym.app.quickstart_report import peak_rss_mib, write_report
    from agentgym.eval.runner import evaluate
    from agentgym.model import Engine, EngineConfig, load_pretrained
    from agentgym.rl.backends import EngineBackend
    from agentgym.rl.build import set_trainable_layers
    from agentgym.rl.config import parse_config
    from agentgym.rl.demos import reference_demonstrations
    from agentgym.rl.sft import train_sft
    from agentgym.rl.trainer import GRPOTrainer
    from agentgym.rollout.jsonl import TrajectoryWriter
    from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig
    from agentgym.taskio import save_tasks

    q = config or QuickstartConfig()
    out = Path(q.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    peak_rss: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 1)
        clock = now
        peak_rss[name] = round(peak_rss_mib())
        print(f"quickstart: {name} done in {seconds[name]} s (peak RSS so far {peak_rss[name]} MiB)", flush=True)

    torch.manual_seed(q.seed)
    model, tokenizer = load_pretrained("smollm2-135m")
    set_trainable_layers(model, q.trainable_layers)
    make_env = lambda name: make(name, **q.envs[name])
    train, heldout, demos, how = split_tasks(q, make_env)
    # one engine (one KV cache, one packed weight copy) serves the evaluations and GRPO's sampling
    engine = Engine(model, tokenizer, EngineConfig(max_batch_size=16, max_seq_len=q.max_seq_len,
                                                   max_prefill_tokens=4096))
    greedy = EnginePolicy(engine, EnginePolicyConfig(temperature=0.0, max_new_tokens=q.max_new_tokens, seed=q.seed))
    lap("load")

    scores: dict[str, dict[str, list[float]]] = {}
    trajectories: dict[str, list[Trajectory]] = {}

    def evaluate_row(row: str) -> None:
        scores[row], trajectories[row] = evaluate(greedy, make_env, heldout, score=lambda t: t.reward,
                                                  max_turns=q.max_turns, progress=q.progress)
        writer = TrajectoryWriter(out / f"eval_{row}.jsonl")
        for t in trajectories[row]:
            writer.write(t)
        writer.finish()
        print(f"quickstart: {row}: " + ", ".join(f"{n} {sum(v) / len(v):.3f} (n={len(v)})"
                                                for n, v in scores[row].items()), flush=True)
        lap(f"eval_{row}")

    evaluate_row("base")

    examples = []  # each env's multi-turn reference policy (arith: calculator → read → submit), reward-1 episodes only
    for name in q.envs:
        examples += reference_demonstrations(lambda name=name: make_env(name), demos[name], tokenizer,
                                             max_turns=q.max_turns, seed=q.seed)
    sft_losses = train_sft(model, examples, pad_id=tokenizer.pad_id, lr=q.sft_lr, batch_size=q.sft_batch,
                           epochs=-(-q.sft_steps * q.sft_batch // max(1, len(examples))), seed=q.seed,
                           max_steps=q.sft_steps) if examples else []
    lap("sft")
    evaluate_row("sft")

    task_dir = out / "tasks"
    task_dir.mkdir(exist_ok=True)
    for name in q.envs:
        save_tasks(task_dir / f"{name}.train.jsonl", train[name])
        save_tasks(task_dir / f"{name}.heldout.jsonl", heldout[name])
    train_config = parse_config({
        "envs": [{"name": n, "kwargs": kw, "tasks": str(task_dir / f"{n}.train.jsonl"),
                  "heldout_tasks": str(task_dir / f"{n}.heldout.jsonl")} for n, kw in q.envs.items()],
        "model": {"pretrained": "smollm2-135m", "trainable_layers": q.trainable_layers,
                  "max_seq_len": q.max_seq_len},
        "sampling": {"temperature": q.temperature, "max_new_tokens": q.max_new_tokens, "max_turns": q.max_turns},
        "reward": {"format_weight": q.format_weight},
        "techniques": {"max_refill_rounds": 1},
        "steps": q.steps, "groups_per_step": q.groups_per_step, "group_size": q.group_size,
        "optim": {"lr": q.lr}, "out_dir": str(out), "progress": q.progress,
        "time_budget_s": max(1.0, q.total_budget_s - sum(seconds.values()) - seconds["eval_sft"]),
        "seed": q.seed,
    })
    sampler = EnginePolicy(engine, EnginePolicyConfig(temperature=q.temperature, max_new_tokens=q.max_new_tokens,
                                                      seed=q.seed))
    trainer = GRPOTrainer(train_config, make_env=make_env, model=model, tokenizer=tokenizer,
                          backend=EngineBackend(sampler))
    records = trainer.train()
    lap("grpo")
    evaluate_row("grpo")

    report = write_report(out, q, scores=scores, trajectories=trajectories, records=records, sft_losses=sft_losses,
                          num_examples=len(examples), seconds=seconds, split_how=how, peak_rss=peak_rss)
    return QuickstartResult(scores=scores, records=records, report=report, seconds=seconds, heldout=heldout)


def run_scripted_quickstart(*, num_tasks: int = 32, num_samples: int = 2, out_dir: str | Path = "runs/quickstart",
                            progress: bool = True) -> tuple[list[Trajectory], Path, float]:
    """Play `num_tasks` arith tasks `num_samples` times each; returns the trajectories, their file and the wall time."""
    from agentgym.envs.arith.solver import arith_solver
    from agentgym.rollout import RolloutConfig, ScriptedPolicy, run_episodes

    env_probe = make("arith")
    tasks = env_probe.sample_tasks(num_tasks, seed=0)
    out = Path(out_dir) / "trajectories.jsonl"
    start = time.perf_counter()
    trajectories = asyncio.run(
        run_episodes(lambda: make("arith"), ScriptedPolicy(arith_solver), tasks,
                     RolloutConfig(num_samples=num_samples, concurrency=16, max_turns=4, progress=progress), out=out)
    )
    return trajectories, out, time.perf_counter() - start
