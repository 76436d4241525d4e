"""Rubric rewards from a generative judge (GenRM): a chat policy scores a trajectory against the task's rubric, or
ranks a whole GRPO group against it (relative judging), for tasks without an exact verifier.

A rubric is ``task.data["rubric"]``: a list of criteria ``{"name", "description", "weight" > 0}`` (or ``{"criteria":
[...]}``). The pointwise score is Σ weight·score / Σ weight with each criterion scored in [0, 1]; a group ranking
gives the best trajectory 1, the worst 0 and the rest evenly between. A judge reply that does not parse, misses a
criterion or leaves [0, 1] raises `JudgeError`, a labelled failure that is never read as a score of 0. Scores are
cached by the hash of (rubric, task prompt, rendered trajectories, mode), and concurrent judge calls are bounded by
a semaphore, so a batching policy (the embedded engine, a vLLM server) serves them as one batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

from agentgym.api import Message, Task, Trajectory
from agentgym.rollout.policy import Policy

JUDGE_SYSTEM = ("You are a strict grader. You judge an AI agent's work against a rubric. Reply with ONE JSON object "
                "and nothing else.")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
MAX_TRANSCRIPT_CHARS = 6000


class JudgeError(ValueError):
    """The judge's reply could not be read as scores (the message says why); the reward path labels it."""


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    description: str
    weight: float


def parse_rubric(data: Any) -> list[Criterion]:
    """The criteria of ``task.data["rubric"]``; raises ValueError naming what is wrong."""
    items = data.get("criteria") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise ValueError(f"a rubric is a non-empty list of criteria {{name, description, weight}}, got {data!r}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise ValueError(f"rubric criterion {i} needs a non-empty 'name', got {item!r}")
        weight = item.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise ValueError(f"rubric criterion {item['name']!r}: weight must be a positive number, got {weight!r}")
        out.append(Criterion(name=item["name"], description=str(item.get("description", "")), weight=float(weight)))
    if len({c.name for c in out}) != len(out):
        raise ValueError("rubric criterion names must be unique")
    return out


def render_trajectory(trajectory: Trajectory) -> str:
    """The episode as the judge reads it: assistant text, tool calls and tool results (system/user prompt left out)."""
    lines = []
    for m in trajectory.messages:
        if m.role == "assistant":
            calls = "; ".join(f"{c.name}({json.dumps(c.arguments, ensure_ascii=False) if isinstance(c.arguments, dict) else c.arguments})"
                              for c in m.tool_calls)  # fmt: skip
            lines.append(f"AGENT: {m.content}" + (f" [calls {calls}]" if calls else ""))
        elif m.role == "tool":
            lines.append(f"TOOL {m.name or ''}: {m.content}")
    text = "\n".join(lines)
    return text if len(text) <= MAX_TRANSCRIPT_CHARS else text[: MAX_TRANSCRIPT_CHARS // 2] + "\n[...]\n" + \
        text[-MAX_TRANSCRIPT_CHARS // 2 :]


def _criteria_text(rubric: list[Criterion]) -> str:
    return "\n".join(f"- {c.name} (weight {c.weight:g}): {c.description}" for c in rubric)


def pointwise_prompt(task: Task, rubric: list[Criterion], trajectory: Trajectory) -> list[Message]:
    user = (f"TASK:\n{task.prompt}\n\nRUBRIC:\n{_criteria_text(rubric)}\n\nTRAJECTORY:\n{render_trajectory(trajectory)}"
            f"\n\nScore every criterion from 0 (not met) to 1 (fully met). Reply "
            f'{{"scores": {{{", ".join(json.dumps(c.name) + ": x" for c in rubric)}}}}}.')
    return [Message(role="system", content=JUDGE_SYSTEM), Message(role="user", content=user)]


def group_prompt(task: Task, rubric: list[Criterion], trajectories: Sequence[Trajectory]) -> list[Message]:
    parts = [f"TRAJECTORY {i}:\n{render_trajectory(t)}" for i, t in enumerate(trajectories)]
    user = (f"TASK:\n{task.prompt}\n\nRUBRIC:\n{_criteria_text(rubric)}\n\n" + "\n\n".join(parts) +
            f'\n\nRank the {len(trajectories)} trajectories by how well they meet the rubric. Reply {{"ranking": '
            f"[indices, best first]}} listing every index 0..{len(trajectories) - 1} once.")
    return [Message(role="system", content=JUDGE_SYSTEM), Message(role="user", content=user)]


def _json_object(text: str) -> dict[str, Any]:
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    if "{" in text and "}" in text:
        candidates.append(text[text.index("{") : text.rindex("}") + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise JudgeError(f"judge reply holds no JSON object: {text[:200]!r}")


def parse_scores(text: str, rubric: list[Criterion]) -> float:
    """The weighted rubric score in [0, 1] from a pointwise judge reply; raises JudgeError."""
    scores = _json_object(text).get("scores")
    if not isinstance(scores, dict):
        raise JudgeError(f"judge reply has no 'scores' object: {text[:200]!r}")
    total = 0.0
    for c in rubric:
        value = scores.get(c.name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise JudgeError(f"judge gave no number for criterion {c.name!r} (got {value!r})")
        if not 0.0 <= value <= 1.0:
            raise JudgeError(f"judge score {value!r} for criterion {c.name!r} is outside [0, 1]")
        total += c.weight * float(value)
    return total / sum(c.weight for c in rubric)


def parse_ranking(text: str, n: int) -> list[float]:
    """Per-trajectory scores (best 1, worst 0, evenly spaced) from a group judge reply; raises JudgeError."""
    ranking = _json_object(text).get("ranking")
    if not isinstance(ranking, list) or sorted(r for r in ranking if isinstance(r, int)) != list(range(n)):
        raise JudgeError(f"judge ranking must list every index 0..{n - 1} once, got {ranking!r}")
    scores = [0.0] * n
    for place, index in enumerate(ranking):
        scores[index] = 1.0 - place / (n - 1) if n > 1 else 1.0
    return scores


def cache_key(mode: str, task: Task, rubric: list[Criterion], trajectories: Sequence[Trajectory]) -> str:
    payload = json.dumps([mode, task.prompt, [(c.name, c.description, c.weight) for c in rubric],
                          [render_trajectory(t) for t in trajectories]], ensure_ascii=False)  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()


class RubricJudge:
    """Scores trajectories against task rubrics with a chat `policy` (any `agentgym.rollout.Policy`).

    Args:
        policy: the judge model, e.g. ``make_policy("openai:judge@http://127.0.0.1:8000/v1")``.
        max_concurrency: judge calls in flight at once (a batching policy serves them together).
    """

    def __init__(self, policy: Policy, *, max_concurrency: int = 16) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
        self.policy = policy
        self.max_concurrency = max_concurrency
        self.cache: dict[str, Any] = {}
        self.num_calls = 0
        self._semaphore: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _ask(self, messages: list[Message]) -> str:
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:  # a semaphore belongs to one event loop
            self._semaphore, self._loop = asyncio.Semaphore(self.max_concurrency), loop
        async with self._semaphore:
            self.num_calls += 1
            step = await self.policy.act(messages, [])
        return step.action.text or ""

    async def score(self, task: Task, trajectory: Trajectory) -> float:
        """The rubric score of one trajectory in [0, 1]; raises JudgeError (or ValueError for a bad rubric)."""
        rubric = parse_rubric(task.data.get("rubric"))
        key = cache_key("pointwise", task, rubric, [trajectory])
        if key not in self.cache:
            self.cache[key] = parse_scores(await self._ask(pointwise_prompt(task, rubric, trajectory)), rubric)
        return self.cache[key]

    async def score_many(self, items: Sequence[tuple[Task, Trajectory]]) -> list[float | JudgeError]:
        """Scores of many trajectories, judged concurrently; a failed judgement comes back as its JudgeError."""
        results = await asyncio.gather(*(self.score(t, tr) for t, tr in items), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, JudgeError):
                raise r
        return list(results)

    async def rank(self, task: Task, trajectories: Sequence[Trajectory]) -> list[float]:
        """Relative scores of a group of trajectories of one task (one judge call); raises JudgeError."""
        rubric = parse_rubric(task.data.get("rubric"))
        key = cache_key("group", task, rubric, trajectories)
        if key not in self.cache:
            reply = await self._ask(group_prompt(task, rubric, trajectories))
            self.cache[key] = parse_ranking(reply, len(trajectories))
        return list(self.cache[key])


def mix(verifier_reward: float, rubric_score: float | None, *, verifier_weight: float,
        rubric_weight: float) -> tuple[float, dict[str, float]]:  # fmt: skip
    """(reward, components) = verifier_weight · verifier + rubric_weight · rubric (rubric None: verifier only)."""
    components = {"verifier": verifier_weight * verifier_reward}
    if rubric_score is not None:
        components["rubric"] = rubric_weight * rubric_score
    return sum(components.values()), components
