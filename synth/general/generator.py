"""The `Generator` interface: what proposes environments and tasks to the pipeline (an LLM, or procedural code)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from agentgym.synth.general.drafts import EnvDraft, TaskDraft


@runtime_checkable
class Generator(Protocol):
    """Proposes, repairs and escalates drafts; the pipeline checks everything it proposes in the sandbox.

    Every method gets an integer `seed` derived from (run seed, unit index), so a rerun proposes the same drafts.
    A method may raise; the pipeline then rejects the unit at that stage and records why.

    Attributes:
        name: recorded in provenance, e.g. "procedural" or "llm".
        model: the chat model behind it, or None.
    """

    name: str
    model: str | None

    def categories(self) -> list[str]:
        """The categories this generator can build."""
        ...

    async def propose_environment(self, category: str, seed: int) -> EnvDraft:
        """Data (SQL) and tools for a new environment of `category`."""
        ...

    async def propose_task(self, env: EnvDraft, seed: int) -> TaskDraft:
        """A simple (level 0) task with its solution and verifier."""
        ...

    async def repair(self, env: EnvDraft, task: TaskDraft, feedback: str, seed: int) -> TaskDraft | None:
        """A fixed task after the solution failed the verifier (`feedback` says how), or None to give up."""
        ...

    async def escalate(self, env: EnvDraft, task: TaskDraft, seed: int) -> tuple[EnvDraft, TaskDraft] | None:
        """A harder task one level up (the environment may gain tools, never lose them), or None at the top."""
        ...
