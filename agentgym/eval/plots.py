"""PNG plots of one env's results (pass@k/pass^k curve, reward histogram, turns distribution) with matplotlib.

Figures are built with `matplotlib.figure.Figure` and written by the Agg renderer, never through pyplot, so plotting
needs no display, touches no global figure state, and works from threads and servers alike.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from agentgym.api import Trajectory
from agentgym.errors import require
from agentgym.eval.metrics import EnvMetrics

DPI = 100
FIGSIZE = (6.0, 4.0)


def _figure() -> tuple[Any, Any]:
    require("matplotlib", "eval", "agentgym eval plots")
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE)
    fig.subplots_adjust(left=0.12, right=0.97, top=0.9, bottom=0.13)  # fixed margins: tight_layout costs ~40%
    return fig, fig.subplots()


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, format="png")
    return path


def plot_pass_at_k(metrics: EnvMetrics, path: Path) -> Path:
    fig, ax = _figure()
    ks = list(metrics.pass_at_k)
    ax.plot(ks, [metrics.pass_at_k[k] for k in ks], marker="o", label="pass@k (any of k)")
    ax.plot(ks, [metrics.pass_hat_k[k] for k in ks], marker="s", linestyle="--", label="pass^k (all of k)")
    ax.set(xlabel="k", ylabel="probability", ylim=(-0.02, 1.02), title=f"{metrics.env}: pass@k and pass^k")
    ax.set_xticks(ks if len(ks) <= 20 else ks[:: len(ks) // 20 + 1])
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _save(fig, path)


def plot_rewards(metrics: EnvMetrics, trajectories: Sequence[Trajectory], path: Path) -> Path:
    fig, ax = _figure()
    ax.hist([t.reward for t in trajectories], bins=20, color="tab:blue", edgecolor="white")
    ax.axvline(metrics.mean_reward, color="black", linestyle="--", label=f"mean {metrics.mean_reward:.3f}")
    ax.set(xlabel="episode reward", ylabel="episodes", title=f"{metrics.env}: reward histogram")
    ax.legend()
    return _save(fig, path)


def plot_turns(metrics: EnvMetrics, trajectories: Sequence[Trajectory], path: Path) -> Path:
    fig, ax = _figure()
    counts = Counter(t.num_turns for t in trajectories)
    turns = list(range(min(counts), max(counts) + 1))
    ax.bar(turns, [counts.get(n, 0) for n in turns], width=0.8, color="tab:green")
    ax.set_xticks(turns if len(turns) <= 20 else turns[:: len(turns) // 20 + 1])
    ax.set_xlim(turns[0] - 1, turns[-1] + 1)
    ax.set(xlabel="assistant turns", ylabel="episodes", title=f"{metrics.env}: turns per episode")
    return _save(fig, path)


def plot_env(metrics: EnvMetrics, trajectories: Sequence[Trajectory], out_dir: str | Path) -> list[Path]:
    """Write `<env>_passk.png`, `<env>_reward.png` and `<env>_turns.png` into `out_dir`; returns their paths."""
    require("matplotlib", "eval", "agentgym eval plots")  # before any folder is made
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = metrics.env
    return [
        plot_pass_at_k(metrics, out_dir / f"{env}_passk.png"),
        plot_rewards(metrics, trajectories, out_dir / f"{env}_reward.png"),
        plot_turns(metrics, trajectories, out_dir / f"{env}_turns.png"),
    ]
