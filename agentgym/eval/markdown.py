"""The Markdown report of a run: a summary table over envs, then each env's pass@k table, plots and failures."""

from __future__ import annotations

from typing import Any, Sequence

from agentgym.eval.metrics import EnvMetrics

SUMMARY_COLUMNS = ("env", "tasks × n", "pass@1", "pass@n", "pass^n", "mean reward [95% CI]", "turns",
                    "tokens (prompt / completion)", "tool-call errors", "env errors", "wall time")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def summary_row(m: EnvMetrics) -> list[str]:
    n = m.num_samples
    return [
        m.env,
        f"{m.num_tasks} × {n}",
        f"{m.pass_at_k[1]:.3f}",
        f"{m.pass_at_k[n]:.3f}",
        f"{m.pass_hat_k[n]:.3f}",
        f"{m.mean_reward:.3f} [{m.reward_ci_low:.3f}, {m.reward_ci_high:.3f}]",
        f"{m.mean_turns:.2f}",
        f"{m.mean_prompt_tokens:.0f} / {m.mean_completion_tokens:.0f}",
        f"{m.tool_error_rate:.1%}",
        str(m.num_env_errors),
        "—" if m.wall_time_s is None else f"{m.wall_time_s:.2f} s",
    ]


def render_report(meta: dict[str, Any], metrics: Sequence[EnvMetrics], plots: dict[str, list[str]],
                  plots_skipped: str | None = None) -> str:
    """The whole `report.md` text."""
    lines = ["# agentgym evaluation", ""]
    if meta:
        config = meta.get("config", {})
        turns = meta.get("max_turns")  # per env since the default became each env's own budget
        turns = ", ".join(f"{k} {v}" for k, v in turns.items()) if isinstance(turns, dict) else config.get(
            "max_turns", "?")
        lines += [
            f"- policy: `{meta.get('policy', '?')}`",
            (f"- samples per task (n): {config.get('num_samples', '?')}, max turns: {turns}, "
             f"seed: {config.get('seed', '?')}"),
            f"- tasks: {meta.get('tasks_file') or 'sampled with each env’s sample_tasks hook'}",
            f"- created: {meta.get('created', '?')}",
            "",
        ]
    lines += _table(SUMMARY_COLUMNS, [summary_row(m) for m in metrics])
    units = sorted({m.token_unit for m in metrics})
    lines += [
        "",
        ("pass@k: the probability that at least one of k samples passes (unbiased estimator 1 − C(n−c,k)/C(n,k), "
         "averaged over tasks); pass^k: the probability that all k pass (C(c,k)/C(n,k)). The reward interval is a "
         f"{metrics[0].ci_method if metrics else ''} (tasks weighted equally). Token counts are {'; '.join(units)}. "
         "Episodes with an env error count as failures."),
    ]
    if plots_skipped:
        lines += ["", f"Plots were skipped: {plots_skipped}"]
    for m in metrics:
        lines += ["", f"## {m.env}", ""]
        lines += _table(["k", "pass@k", "pass^k"],
                        [[str(k), f"{m.pass_at_k[k]:.3f}", f"{m.pass_hat_k[k]:.3f}"] for k in m.pass_at_k])
        lines += ["", f"{m.num_episodes} episodes, {m.num_truncated} truncated, {m.num_env_errors} env errors."]
        if m.failures:
            lines += ["", "First env errors:", ""] + [f"- `{f[:300]}`" for f in m.failures]
        for path in plots.get(m.env, []):
            lines += ["", f"![{path}]({path})"]
    return "\n".join(lines) + "\n"
