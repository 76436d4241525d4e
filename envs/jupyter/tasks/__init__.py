"""The jupyter env's task families, one generator per file, and `generate_tasks`, which mixes them deterministically."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agentgym.api import Task
from agentgym.envs.jupyter.tasks import data_analysis, number_theory, symbolic

GENERATORS: dict[str, Callable[[int, int, int], Task]] = {
    number_theory.FAMILY: lambda seed, i, d: number_theory.generate_task(
        seed, i, number_theory.NumberTheoryConfig(difficulty=d)
    ),
    symbolic.FAMILY: lambda seed, i, d: symbolic.generate_task(seed, i, symbolic.SymbolicConfig(difficulty=d)),
    data_analysis.FAMILY: lambda seed, i, d: data_analysis.generate_task(
        seed, i, data_analysis.DataAnalysisConfig(difficulty=d)
    ),
}
FAMILIES: tuple[str, ...] = tuple(GENERATORS)


def generate_tasks(n: int, *, seed: int = 0, difficulty: int = 2, families: Sequence[str] = FAMILIES) -> list[Task]:
    """`n` tasks cycling through `families` (task i comes from family (seed + i) mod len(families)).

    The same arguments always give the same tasks.

    Raises:
        ValueError: a bad `n`, an unknown family or an out-of-range difficulty.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    unknown = [f for f in families if f not in GENERATORS]
    if unknown or not families:
        raise ValueError(f"families must be a non-empty subset of {FAMILIES}, got {list(families)!r}")
    if isinstance(difficulty, bool) or not isinstance(difficulty, int) or not 1 <= difficulty <= 5:
        raise ValueError(f"difficulty must be an integer in [1, 5], got {difficulty!r}")
    return [GENERATORS[families[(seed + i) % len(families)]](seed, i, difficulty) for i in range(n)]


__all__ = ["FAMILIES", "GENERATORS", "generate_tasks"]
