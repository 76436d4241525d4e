"""Ground-truth verification against the corpus, and scoring candidate answers with the env's own verifier.

A procedural pair is verified by replaying its chain through the tools (`chains.replay`) and requiring the same
documents and the same answer, plus the answer's literal presence in the last document. An LLM pair is verified by
its evidence: every cited document must exist and at least one must contain the answer verbatim (`find`); the answer
must not appear in the question.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentgym.synth.search.chains import replay
from agentgym.synth.search.questions import QAPair
from agentgym.synth.search.session import ToolSession

from agentgym.api import Action, Task, ToolCall
from agentgym.registry import make


@dataclass(frozen=True, slots=True)
class Verification:
    """Whether the pair's ground truth holds, and why (or why not)."""

    is_verified: bool
    reason: str


async def verify_pair(session: ToolSession, pair: QAPair) -> Verification:
    if pair.answer.lower() in pair.question.lower():
        return Verification(False, "the answer appears in the question")
    if pair.hops or pair.final:
        path, answer = await replay(session, pair.start, list(pair.hops), pair.final)
        if path != pair.evidence:
            return Verification(False, f"replaying the chain reached {path}, not {pair.evidence}")
        if answer != pair.answer:
            return Verification(False, f"replaying the chain gives {answer!r}, not {pair.answer!r}")
        for clue in pair.clues[1:]:
            if await session.label(clue, "Module") != pair.evidence[1]:
                return Verification(False, f"clue {clue!r} is not defined in {pair.evidence[1]!r}")
    missing = [d for d in pair.evidence if not await session.exists(d)]
    if missing:
        return Verification(False, f"evidence documents do not exist: {missing}")
    holding = [d for d in pair.evidence if await session.find(d, pair.answer)]
    if not holding:
        return Verification(False, f"no evidence document contains {pair.answer!r}")
    return Verification(True, f"answer {pair.answer!r} found in {holding[-1]!r}"
                              + (f" after replaying {len(pair.hops)} hop(s)" if pair.hops else ""))


async def is_correct(task: Task, answer: str, env_kwargs: dict | None = None) -> bool:
    """Score `answer` on `task` with the search env itself (reset, then `submit`): the reward a policy would get."""
    env = make("search", **(env_kwargs or {}))
    try:
        await env.reset(task)
        result = await env.step(Action(tool_calls=[ToolCall(id="check", name="submit", arguments={"answer": answer})]))
    finally:
        await env.close()
    return result.verdict is not None and result.verdict.passed
