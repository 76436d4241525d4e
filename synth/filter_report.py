"""The filter's summary: tasks, kept tasks and episodes per stopping rule, against the naive k·N cost."""

from __future__ import annotations

from collections import Counter
from typing import Any

from agentgym.synth.filter_rules import TaskState
from rich.table import Table

STOP_RULES = ("first_success", "sprt_not_too_easy", "sprt_too_easy", "sprt_unsolvable", "budget", "fixed_n",
              "env_errors")


def summary_rows(states: list[TaskState], k: int) -> list[dict[str, Any]]:
    """One row per stopping rule that occurred, then a total row with the saving against k attempts per task."""
    tasks, kept, episodes = Counter(), Counter(), Counter()
    for s in states:
        rule = s.stopped_by or "live"
        tasks[rule] += 1
        kept[rule] += int(bool(s.is_kept))
        episodes[rule] += s.num_episodes
    order = [r for r in STOP_RULES if r in tasks] + sorted(set(tasks) - set(STOP_RULES))
    rows = [{"stopped_by": r, "tasks": tasks[r], "kept": kept[r], "episodes": episodes[r],
             "mean_episodes": episodes[r] / tasks[r]} for r in order]
    total = sum(episodes.values())
    naive = k * len(states)
    rows.append({"stopped_by": "total", "tasks": len(states), "kept": sum(kept.values()), "episodes": total,
                 "mean_episodes": total / max(1, len(states)), "naive_episodes": naive,
                 "saving": naive / total if total else float("inf")})
    return rows


def summary_table(states: list[TaskState], k: int) -> Table:
    """The rows of `summary_rows` as a rich table."""
    rows = summary_rows(states, k)
    total = rows[-1]
    table = Table(title=f"pass@{k} filter: {total['kept']}/{total['tasks']} kept, {total['episodes']} episodes "
                        f"vs {total['naive_episodes']} naive ({total['saving']:.2f}× fewer)")
    for column in ("stopped by", "tasks", "kept", "episodes", "episodes/task"):
        table.add_column(column, justify="left" if column == "stopped by" else "right")
    for row in rows:
        table.add_row(row["stopped_by"], str(row["tasks"]), str(row["kept"]), str(row["episodes"]),
                      f"{row['mean_episodes']:.1f}")
    return table
