"""`agentgym quickstart`: SmolLM2-135M, cold-start SFT, then mixed GRPO on arith, rpt and general, on a 2-core CPU.

What a 135M model can learn in minutes on a CPU (measured, see `run_quickstart`): out of the box it never answers in
any env's format (0 reward on all three), so GRPO alone sees only flat groups. The job therefore follows DeepSeek's
recipe in miniature: (1) held-out evaluation; (2) cold start: SFT on rejection-sampled demonstrations (each env's
reference solution, written as the Hermes tool call the model must learn to emit); (3) mixed GRPO with the env
reward plus a format reward, single-turn episodes, short completions, only the last blocks trained; (4) the same
held-out evaluation again, with bootstrap confidence intervals; (5) a report and a reward-curve PNG.

`agentgym quickstart --scripted` runs `run_scripted_quickstart` instead: a few seconds of `arith` episodes with a
scripted calculator→submit policy, checking registry → env → tools → agent loop → JSONL on a fresh machine.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentgym.api import Message, Trajectory
from agentgym.model.sampling_params import DEFAULT_MAX_NEW_TOKENS
from agentgym.registry import make
from agentgym.tools import render_tool_calls

QUICKSTART_ENVS = {"arith": {"difficulty": 1}, "rpt": {}, "general": {}}
"""The mix: env name -> make() kwargs (arith at difficulty 1: one operation)."""


@dataclass(kw_only=True, slots=True)
class QuickstartConfig:
    """The knobs of the quickstart job (defaults sized for ≤ 15 minutes on 2 CPU cores).

    Attributes:
        out_dir: where the report, metrics, PNG and checkpoints go.
        num_eval_tasks: held-out tasks per env (task seed `eval_seed`, disjoint from the training seed 0).
        num_demos: SFT demonstrations per env; sft_epochs / sft_lr: the cold-start fine-tune.
        steps, groups_per_step, group_size, lr: the GRPO run.
        total_budget_s: GRPO stops after the step that leaves less than the time the first evaluation took (so the
            whole job, including the second evaluation, stays within the budget).
        trainable_layers: train only the last N of SmolLM2's 30 blocks (and the final norm).
        max_new_tokens: completion length of every turn.
        format_weight: weight of the format reward added to the env reward during GRPO.
    """

    out_dir: str = "runs/quickstart"
    num_eval_tasks: int = 6
    eval_seed: int = 10_000
    num_demos: int = 6
    sft_epochs: int = 4
    sft_lr: float = 3e-4
    steps: int = 8
    groups_per_step: int = 2
    group_size: int = 4
    lr: float = 3e-5
    total_budget_s: float = 840.0
    trainable_layers: int = 6
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    format_weight: float = 0.5
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("num_eval_tasks", "num_demos", "steps", "groups_per_step", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"QuickstartConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise ValueError(f"QuickstartConfig.group_size must be >= 2, got {self.group_size}")


@dataclass(slots=True)
class QuickstartResult:
    """Held-out scores before and after (by env), the GRPO metrics, the files written and the wall time per phase."""

    before: dict[str, list[float]]
    after: dict[str, list[float]]
    records: list[dict[str, Any]]
    report: Path
    seconds: dict[str, float] = field(default_factory=dict)


def _score(format_weight: float, tool_names: dict[str, frozenset[str]]):
    from agentgym.rl.rewards import shaped_reward

    def score(t: Trajectory) -> float:
        replies = [m.content for m in t.messages if m.role == "assistant"]
        total, _ = shaped_reward(t.reward, completion_tokens=t.num_completion_tokens, text=" ".join(replies),
                                 format_weight=format_weight, format_text=replies[0] if replies else "",
                                 tool_names=tool_names.get(t.env, frozenset()))
        return total

    return score


def run_quickstart(config: QuickstartConfig | None = None) -> QuickstartResult:
    """Run the whole job and write OUT/report.md, OUT/eval.json, OUT/metrics.jsonl and OUT/reward_curve.png."""
    import torch

    from agentgym.model import Engine, EngineConfig, load_pretrained
    from agentgym.rl.build import set_trainable_layers
    from agentgym.rl.config import parse_config
    from agentgym.eval.runner import evaluate
    from agentgym.rl.sft import sft_example, train_sft
    from agentgym.rl.trainer import GRPOTrainer
    from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig

    q = config or QuickstartConfig()
    out = Path(q.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 1)
        clock = now
        print(f"quickstart: {name} done in {seconds[name]} s", flush=True)

    torch.manual_seed(q.seed)
    model, tokenizer = load_pretrained("smollm2-135m")
    set_trainable_layers(model, q.trainable_layers)
    make_env = lambda name: make(name, **QUICKSTART_ENVS[name])
    tool_names = {name: frozenset(t.name for t in make_env(name).tools()) for name in QUICKSTART_ENVS}
    held_out = {name: make_env(name).sample_tasks(q.num_eval_tasks, seed=q.eval_seed) for name in QUICKSTART_ENVS}
    engine = Engine(model, tokenizer, EngineConfig(max_batch_size=16, max_seq_len=1024, max_prefill_tokens=8192))
    greedy = EnginePolicy(engine, EnginePolicyConfig(temperature=0.0, max_new_tokens=q.max_new_tokens, seed=q.seed))
    score = _score(q.format_weight, tool_names)
    lap("load")

    before, _ = evaluate(greedy, make_env, held_out, score=score, progress=q.progress)
    lap("eval_before")

    examples = []
    for name in QUICKSTART_ENVS:
        env = make_env(name)
        tools = env.tools()
        for task in env.sample_tasks(q.num_demos, seed=q.seed + 1):
            call = render_tool_calls(env.reference_action(task).tool_calls[:1])  # one turn: its first call
            system = getattr(env, "system_prompt", "")
            messages = ([Message(role="system", content=system)] if system else []) + [
                Message(role="user", content=task.prompt), Message(role="assistant", content=call)]
            examples.append(sft_example(Trajectory(task_id=task.id, env=name, messages=messages, reward=1.0),
                                        tokenizer, tools))
    from rich.progress import Progress

    with Progress(disable=not q.progress) as bar:
        sft_bar = bar.add_task("cold-start SFT", total=q.sft_epochs * -(-len(examples) // 6))
        sft_losses = train_sft(model, examples, pad_id=tokenizer.pad_id, lr=q.sft_lr, epochs=q.sft_epochs,
                               batch_size=6, seed=q.seed, on_step=lambda i, loss: bar.update(sft_bar, advance=1))
    lap("sft")

    train_config = parse_config({
        "envs": [{"name": n, "kwargs": kw, "num_tasks": 64} for n, kw in QUICKSTART_ENVS.items()],
        "model": {"pretrained": "smollm2-135m", "trainable_layers": q.trainable_layers, "max_seq_len": 1024},
        "sampling": {"temperature": 1.0, "max_new_tokens": q.max_new_tokens, "max_turns": 1},
        "reward": {"format_weight": q.format_weight},
        "techniques": {"max_refill_rounds": 1},
        "steps": q.steps, "groups_per_step": q.groups_per_step, "group_size": q.group_size,
        "optim": {"lr": q.lr}, "out_dir": str(out), "progress": q.progress,
        "time_budget_s": max(1.0, q.total_budget_s - sum(seconds.values()) - seconds["eval_before"]),
        "seed": q.seed,
    })
    trainer = GRPOTrainer(train_config, make_env=make_env, model=model, tokenizer=tokenizer)
    records = trainer.train()
    lap("grpo")

    after, trajectories = evaluate(greedy, make_env, held_out, score=score, progress=q.progress)
    lap("eval_after")
    report = write_report(out, before, after, records, sft_losses, seconds, q, trajectories)
    return QuickstartResult(before=before, after=after, records=records, report=report, seconds=seconds)


def write_report(out: Path, before: dict[str, list[float]], after: dict[str, list[float]],
                 records: list[dict[str, Any]], sft_losses: list[float], seconds: dict[str, float],
                 q: QuickstartConfig, trajectories: list[Trajectory]) -> Path:
    """OUT/report.md (the before/after table with CIs) and OUT/eval.json (the raw scores)."""
    from agentgym.eval.stats import bootstrap_mean_ci

    every_before = [x for v in before.values() for x in v]
    every_after = [x for v in after.values() for x in v]
    summary = (f"SmolLM2-135M-Instruct; cold-start SFT on {q.num_demos} demonstrations per env, then mixed GRPO "
               f"({len(records)} steps × {q.groups_per_step} groups × {q.group_size}); last {q.trainable_layers} "
               f"blocks trained. Score = env reward + {q.format_weight} × format (greedy, one reply, held-out tasks).")
    lines = ["# agentgym quickstart", "", summary, "", "| env | before | after |", "|---|---|---|"]
    for name, scores in before.items():
        lines.append(f"| {name} | {bootstrap_mean_ci(scores)} | {bootstrap_mean_ci(after[name])} |")
    lines.append(f"| **all** | {bootstrap_mean_ci(every_before)} | {bootstrap_mean_ci(every_after)} |")
    lines += ["", f"SFT loss: {sft_losses[0]:.3f} → {sft_losses[-1]:.3f}" if sft_losses else "SFT: no examples",
              "GRPO reward per step: " + ", ".join(f"{r['reward_mean']:.3f}" for r in records),
              "", "Wall time (s): " + ", ".join(f"{k} {v}" for k, v in seconds.items())
              + f", total {sum(seconds.values()):.1f}", "", "![reward curve](reward_curve.png)", "",
              "## Sample replies after training", ""]
    for t in trajectories[:: max(1, len(trajectories) // 6)][:6]:
        reply = next((m.content for m in t.messages if m.role == "assistant"), "")
        lines.append(f"- `{t.env}` reward {t.reward}: `{reply[:160]!r}`")
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "eval.json").write_text(json.dumps({"before": before, "after": after, "seconds": seconds}, indent=1),
                                   encoding="utf-8")
    return report


def run_scripted_quickstart(*, num_tasks: int = 32, num_samples: int = 2, out_dir: str | Path = "runs/quickstart",
                            progress: bool = True) -> tuple[list[Trajectory], Path, float]:
    """Play `num_tasks` arith tasks `num_samples` times each; returns the trajectories, their file and the wall time."""
    import asyncio

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
