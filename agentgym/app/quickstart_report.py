"""The quickstart's report: three rows (base, SFT-only, SFT + GRPO) of held-out env reward with 95 % intervals, the
GRPO gain over SFT-only with a paired-bootstrap interval, per-step collapse metrics and rendered held-out episodes."""

from __future__ import annotations

import json
import resource
from pathlib import Path
from typing import Any

from agentgym.api import Trajectory

ROWS = {"base": "base model", "sft": "SFT-only (cold start)", "grpo": "SFT + GRPO"}
COLLAPSE_METRICS = ("reward_mean", "distinct_replies", "entropy", "tool_call_rate", "turns_mean")


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ci(values: list[float]) -> str:
    from agentgym.eval.stats import bootstrap_mean_ci

    return str(bootstrap_mean_ci(values)) if values else "–"


def _gain(sft: list[float], grpo: list[float]) -> str:
    from agentgym.eval.stats import paired_bootstrap

    d = paired_bootstrap(sft, grpo)
    return f"{d.diff:+.3f} [{d.low:+.3f}, {d.high:+.3f}] (p={d.p_value:.3f}, n={d.num_tasks})"


def render_episode(trajectory: Trajectory) -> str:
    """One episode as `agentgym show` prints it, as plain text."""
    from rich.console import Console

    from agentgym.eval.transcript import render_trajectory

    console = Console(record=True, width=110, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render_trajectory(trajectory))
    text = console.export_text()
    console.file.close()
    return text


def _episodes(trajectories: list[Trajectory], env: str, k: int) -> list[Trajectory]:
    """Up to `k` episodes of `env`: a success first (when there is one), then failures."""
    mine = [t for t in trajectories if t.env == env]
    wins, losses = [t for t in mine if t.reward >= 1.0], [t for t in mine if t.reward < 1.0]
    return (wins[:1] + losses + wins[1:])[:k]


def write_report(out: Path, q: Any, *, scores: dict[str, dict[str, list[float]]],
                 trajectories: dict[str, list[Trajectory]], records: list[dict[str, Any]], sft_losses: list[float],
                 num_examples: int, seconds: dict[str, float], split_how: dict[str, str],
                 peak_rss: dict[str, float] | None = None) -> Path:
    """OUT/report.md and OUT/eval.json (every row's raw per-task env rewards, the phase times, the peak RSS)."""
    from agentgym.rl.metrics import plot_reward_curve

    envs = list(scores["base"])
    every = {row: [x for e in envs for x in scores[row][e]] for row in ROWS}
    total_s = sum(seconds.values())
    rss = peak_rss_mib()
    lines = [
        "# agentgym quickstart", "",
        f"SmolLM2-135M-Instruct (last {q.trainable_layers} of 30 blocks trained) on {', '.join(envs)} "
        f"({', '.join(f'{n} {kw}' for n, kw in q.envs.items())}). Score = **the env's own reward** on held-out tasks, "
        f"greedy, up to {q.max_turns} turns of {q.max_new_tokens} tokens per episode, the same for every row. "
        f"Cold start: SFT on {num_examples} multi-turn reference trajectories ({q.sft_steps} steps of {q.sft_batch}). "
        f"GRPO: {len(records)} steps × {q.groups_per_step} groups × {q.group_size}, T = {q.temperature}, "
        f"lr {q.lr}, shaping weight {q.format_weight} (training only).", "",
        "| env | " + " | ".join(ROWS.values()) + " | GRPO − SFT-only (paired) |",
        "|---|" + "---|" * (len(ROWS) + 1),
    ]
    for e in envs:
        lines.append(f"| {e} | " + " | ".join(_ci(scores[row][e]) for row in ROWS)
                     + f" | {_gain(scores['sft'][e], scores['grpo'][e])} |")
    lines.append("| **all** | " + " | ".join(_ci(every[row]) for row in ROWS)
                 + f" | {_gain(every['sft'], every['grpo'])} |")
    lines += ["", "Intervals: 95 % percentile bootstrap over tasks (the gain: paired by task).", "",
              "Held-out split per env: " + "; ".join(f"{e}: {how}" for e, how in split_how.items()) + ". "
              f"The {q.num_demos} demonstration tasks come from the training side; the run refuses any overlap.", "",
              "## Training", "",
              f"SFT loss: {sft_losses[0]:.3f} → {sft_losses[-1]:.3f}" if sft_losses else "SFT: no examples", ""]
    keys = [k for k in COLLAPSE_METRICS if any(k in r for r in records)]
    if keys:
        lines += ["| step | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
        for r in records:
            lines.append(f"| {r['step']} | " + " | ".join(
                f"{r[k]:.3f}" if isinstance(r.get(k), float) else str(r.get(k, "–")) for k in keys) + " |")
    lines += ["", f"Wall time (s): {', '.join(f'{k} {v}' for k, v in seconds.items())}, total {total_s:.1f}. "
              f"Peak RSS {rss:.0f} MiB" + (" (after each phase: " + ", ".join(f"{k} {v:.0f}" for k, v in
                                                                    (peak_rss or {}).items()) + ")" if peak_rss else "")
              + ".", "", "![reward curve](reward_curve.png)", "",
              "## Held-out episodes after GRPO", ""]
    for e in envs:
        for t in _episodes(trajectories["grpo"], e, q.num_rendered):
            lines += ["```", render_episode(t).rstrip(), "```", ""]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "eval.json").write_text(json.dumps({"scores": scores, "seconds": seconds, "total_s": total_s,
                                               "peak_rss_mib": rss, "split": split_how}, indent=1), encoding="utf-8")
    if records and not (out / "reward_curve.png").exists():
        plot_reward_curve(records, out / "reward_curve.png")
    return report
