"""What every `agentgym` command shares: the rich consoles, `friendly` (an agentgym error is one red line, exit 2)
and the rollout summary table."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agentgym.errors import AgentGymError

console = Console()
err_console = Console(stderr=True)


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print agentgym's own errors as one red line and exit 2 (a user mistake is not a crash)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AgentGymError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]; finished episodes are kept in the .partial file (use --resume)")
            raise typer.Exit(130) from None

    return wrapper


def print_rollout_summary(trajectories: list, out: Path, seconds: float | None = None) -> None:
    """One table: episodes, passed, mean reward, env errors, tool-call errors and where they were written."""
    num = len(trajectories)
    mean = sum(t.reward for t in trajectories) / max(1, num)
    passed = sum(1 for t in trajectories if t.verdict is not None and t.verdict.passed)
    env_errors = sum(1 for t in trajectories if t.error == "env_error")
    table = Table(title="rollout summary")
    for col in ("episodes", "passed", "mean reward", "env errors", "tool-call errors", "output"):
        table.add_column(col)
    table.add_row(str(num), str(passed), f"{mean:.3f}", str(env_errors),
                  str(sum(t.num_tool_errors for t in trajectories)), str(out))
    console.print(table)
    if seconds is not None:
        steps = sum(t.num_turns for t in trajectories)
        console.print(f"{num} episodes, {steps} env steps in {seconds:.2f} s ({steps / max(seconds, 1e-9):.0f} steps/s)")
