"""`ProceduralGenerator`: the offline default generator; it dispatches to one module per category.

Each category module provides ``CATEGORY``, ``MAX_LEVEL``, ``environment(seed, level) -> EnvDraft`` (the tools
available at that level over the same data) and ``task(seed, level) -> TaskDraft``. The world is rebuilt from the seed
kept in ``EnvDraft.world``, so a resumed unit escalates exactly as an uninterrupted one.
"""

from __future__ import annotations

from types import ModuleType

from agentgym.synth.general.categories import (
    expenses,
    inventory,
    library,
    scheduling,
    trip_planning,
)
from agentgym.synth.general.drafts import EnvDraft, TaskDraft

CATEGORY_MODULES: dict[str, ModuleType] = {m.CATEGORY: m for m in (trip_planning, inventory, scheduling, library,
                                                                     expenses)}  # fmt: skip


class ProceduralGenerator:
    """Builds real DBs, tools, solutions and verifiers from seeded code; no LLM involved."""

    name = "procedural"
    model = None

    def categories(self) -> list[str]:
        return list(CATEGORY_MODULES)

    def _module(self, category: str) -> ModuleType:
        if category not in CATEGORY_MODULES:
            raise ValueError(f"unknown category {category!r}; known: {sorted(CATEGORY_MODULES)}")
        return CATEGORY_MODULES[category]

    async def propose_environment(self, category: str, seed: int) -> EnvDraft:
        return self._module(category).environment(seed, 0)

    async def propose_task(self, env: EnvDraft, seed: int) -> TaskDraft:
        return self._module(env.category).task(env.world["seed"], 0)

    async def repair(self, env: EnvDraft, task: TaskDraft, feedback: str, seed: int) -> TaskDraft | None:
        return None  # procedural drafts are right by construction or not at all: nothing to repair

    async def escalate(self, env: EnvDraft, task: TaskDraft, seed: int) -> tuple[EnvDraft, TaskDraft] | None:
        module = self._module(env.category)
        level = task.level + 1
        if level > module.MAX_LEVEL:
            return None
        return module.environment(env.world["seed"], level), module.task(env.world["seed"], level)
