"""Drafts: what a generator proposes (an environment, a task) before the pipeline has checked anything.

Drafts are pydantic models so the pipeline can journal them after every stage and resume a unit where it stopped.
"""

from __future__ import annotations

from typing import Any, Literal

from agentgym.synth.schemas import ToolRecord
from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvDraft(_Model):
    """A proposed environment: SQL that builds its DB, the source of `tools.py`, and the tool specs.

    `world` is generator-private state (a procedural generator keeps its seed there, so escalation can rebuild the
    data).
    """

    category: str
    sql: list[str]
    tools_source: str
    tools: list[ToolRecord]
    world: dict[str, Any] = Field(default_factory=dict)

    def tool_names(self) -> list[str]:
        return [t.name for t in self.tools]


class TaskDraft(_Model):
    """A proposed task: prompt, answer schema, reference solution and verifier (both Python source), and its level.

    - solution: source defining ``solution(tools)``, which may only call ``tools.<name>(**arguments)`` and compute.
    - verifier: source defining ``verify(answer, db)`` → bool, (bool, reasons) or {"passed", "reasons"}.
    - verifier_kind: "answer" (checks the answer), "state" (checks the DB), "both".
    - knobs: what this level raised (constraints, hops, tools), recorded with the task.
    """

    prompt: str
    answer_schema: dict[str, Any]
    solution: str
    verifier: str
    verifier_kind: Literal["answer", "state", "both"] = "answer"
    level: int = 0
    knobs: dict[str, Any] = Field(default_factory=dict)
