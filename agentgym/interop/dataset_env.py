"""`DatasetEnv`: a single-turn question/answer dataset (reasoning-gym `ProceduralDataset` style) as an agentgym env.

A dataset is anything with ``len(dataset)``, ``dataset[i] -> {"question", "answer", "metadata"}`` and
``dataset.score_answer(answer, entry) -> float`` — or a list of such dicts plus a score function. The agent reads the
question and calls ``submit(answer)`` once; the dataset's own scorer is the reward. The entry travels inside the
task (``task.data``), so tasks saved to JSONL are scored the same way later without re-indexing the dataset.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Sequence

from agentgym.api import Action, Task, ToolCall, Verdict
from agentgym.errors import AgentGymError
from agentgym.interop.verdict import threshold_verdict
from agentgym.toolenv import ToolEnv, tool

ScoreFn = Callable[[str, dict[str, Any]], float]


def exact_score(answer: str | None, entry: dict[str, Any]) -> float:
    """1.0 iff the stripped answer equals the stripped oracle answer (the default for lists of dicts)."""
    return 1.0 if answer is not None and str(answer).strip() == str(entry["answer"]).strip() else 0.0


class _ListDataset:
    """A list of entries plus a score function, shaped like a `ProceduralDataset`."""

    def __init__(self, entries: Sequence[dict[str, Any]], score: ScoreFn) -> None:
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or "question" not in e or "answer" not in e:
                raise ValueError(f"entry {i} must be a dict with 'question' and 'answer', got {e!r:.120}")
        self.entries, self.score = list(entries), score

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.entries[index]

    def score_answer(self, answer: str | None, entry: dict[str, Any]) -> float:
        return self.score(answer, entry)


class DatasetEnv(ToolEnv):
    """A single-turn env over a `ProceduralDataset`-style object.

    Args:
        dataset: an object with ``__len__``, ``__getitem__`` and ``score_answer(answer, entry)``, or a list of
            ``{"question", "answer", "metadata"?}`` dicts (scored by `score`).
        name: the env name (tasks get ids ``"{name}-{index}"``).
        score: the score function for a list of dicts (default `exact_score`); ignored for dataset objects.
        pass_threshold: a score at or above this passes.
        system_prompt: what the agent is told before the question.
        max_turns: steps allowed. The first `submit` always ends the episode (one answer, right or wrong); the
            default 2 leaves one retry after a malformed call (1 is allowed, but gymnasium's checker rejects an env
            that truncates after one step).
    """

    system_prompt = "Answer the question. Think it through, then call `submit` with only the final answer."

    def __init__(
        self,
        dataset: Any,
        *,
        name: str = "dataset",
        score: ScoreFn = exact_score,
        pass_threshold: float = 1.0,
        system_prompt: str | None = None,
        max_turns: int = 2,
        tool_format: str = "auto",
    ) -> None:
        super().__init__(max_turns=max_turns, tool_format=tool_format)
        if isinstance(dataset, (list, tuple)):
            dataset = _ListDataset(dataset, score)
        for attr in ("__len__", "__getitem__", "score_answer"):
            if not callable(getattr(dataset, attr, None)):
                raise TypeError(f"dataset must have {attr}() (a reasoning-gym style ProceduralDataset), "
                                f"got {type(dataset).__name__}")
        self.dataset = dataset
        self.name = name
        self.pass_threshold = float(pass_threshold)
        if system_prompt is not None:
            self.system_prompt = system_prompt

    def task_at(self, index: int) -> Task:
        """Entry `index` of the dataset as a Task (the entry is stored in ``task.data`` for scoring)."""
        entry = self.dataset[index]
        data = {"question": entry["question"], "answer": entry["answer"], "metadata": entry.get("metadata") or {},
                "index": index}
        return Task(id=f"{self.name}-{index}", env=self.name, prompt=str(entry["question"]), data=data,
                    meta={"generator": self.name, "index": index})

    @tool("Submit the final answer; this ends the episode.", answer={"type": "string", "description": "the answer"})
    async def submit(self, answer: str) -> Verdict:
        assert self.task is not None
        entry = {k: self.task.data[k] for k in ("question", "answer", "metadata") if k in self.task.data}
        try:
            score = float(self.dataset.score_answer(answer, entry))
        except Exception as e:  # noqa: BLE001 - a scorer bug is the env's failure, reported with its cause
            raise RuntimeError(f"dataset.score_answer failed: {type(e).__name__}: {e}") from e
        return threshold_verdict(score, self.pass_threshold,
                                 f"score_answer({answer!r}) = {score:g} against oracle {entry.get('answer')!r}")

    def reference_action(self, task: Task) -> Action:
        if "answer" not in task.data:
            raise AgentGymError(f"task {task.id!r} has no data['answer']; DatasetEnv tasks carry their oracle answer")
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": str(task.data["answer"])})])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        """`n` tasks at indices drawn from a RNG seeded by `seed` (without repeats while the dataset lasts)."""
        size = len(self.dataset)
        if size == 0:
            raise AgentGymError(f"dataset of env {self.name!r} is empty")
        rng = random.Random(seed)
        order: list[int] = []
        while len(order) < n:
            order += rng.sample(range(size), size)
        return [self.task_at(i) for i in order[:n]]


def dataset_env_factory(make_dataset: Callable[..., Any], *, name: str, **env_config: Any) -> Callable[..., DatasetEnv]:
    """A factory for `agentgym.register`: keyword arguments of `make` go to the dataset, except `max_turns`,
    `pass_threshold` and `system_prompt`, which go to the env.

    Example::

        agentgym.register("gcd", dataset_env_factory(GCDDataset, name="gcd"))
        env = agentgym.make("gcd", seed=3, size=100)      # GCDDataset(seed=3, size=100)
    """
    env_keys = ("max_turns", "pass_threshold", "system_prompt", "tool_format")

    def build(**config: Any) -> DatasetEnv:
        env_kwargs = {**env_config, **{k: config.pop(k) for k in env_keys if k in config}}
        return DatasetEnv(make_dataset(**config), name=name, **env_kwargs)

    build.__qualname__ = f"dataset_env_factory({getattr(make_dataset, '__qualname__', make_dataset)!s})"
    return build
