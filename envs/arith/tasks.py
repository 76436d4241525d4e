"""Seeded generator of multi-step integer arithmetic tasks; task i depends only on (seed, i, difficulty)."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from agentgym.api import Task

DATASET_NAME = "arith"


@dataclass(frozen=True, kw_only=True, slots=True)
class ArithTaskConfig:
    """How hard the generated expressions are.

    Attributes:
        difficulty: number of binary operations in the expression (1 = "3 + 4").
        max_operand: operands are drawn from [1, max_operand].
    """

    difficulty: int = 3
    max_operand: int = 99

    def __post_init__(self) -> None:
        if not isinstance(self.difficulty, int) or not 1 <= self.difficulty <= 32:
            raise ValueError(f"difficulty must be an integer in [1, 32], got {self.difficulty!r}")
        if not isinstance(self.max_operand, int) or self.max_operand < 2:
            raise ValueError(f"max_operand must be an integer >= 2, got {self.max_operand!r}")


def _stream_seed(*parts: object) -> int:
    """An integer seed hashed from the parts: string seeds that share a long prefix give correlated first draws."""
    return int.from_bytes(hashlib.sha256("-".join(map(str, parts)).encode()).digest()[:8], "big")


def make_expression(rng: random.Random, config: ArithTaskConfig) -> str:
    """A random expression with `difficulty` operations, parenthesized left to right so order matters."""
    expr = str(rng.randint(1, config.max_operand))
    for i in range(config.difficulty):
        op = rng.choice(["+", "-", "*"])
        operand = rng.randint(1, config.max_operand if op != "*" else min(config.max_operand, 12))
        expr = f"({expr} {op} {operand})" if i < config.difficulty - 1 else f"{expr} {op} {operand}"
    return expr


def generate_task(seed: int, index: int, config: ArithTaskConfig = ArithTaskConfig()) -> Task:
    """Task `index` of the stream seeded by `seed`, with its verified answer in `data["answer"]`."""
    from agentgym.envs.arith.calculator import evaluate

    rng = random.Random(_stream_seed(DATASET_NAME, seed, index, config.difficulty, config.max_operand))
    expression = make_expression(rng, config)
    answer = evaluate(expression)
    return Task(
        id=f"{DATASET_NAME}-{seed}-{index}",
        env=DATASET_NAME,
        prompt=f"Compute the value of {expression}. Use the calculator tool, then submit the integer result.",
        data={"expression": expression, "answer": answer},
        meta={"generator": DATASET_NAME, "seed": seed, "index": index, "difficulty": config.difficulty},
    )


def generate_tasks(n: int, *, seed: int = 0, difficulty: int = 3) -> list[Task]:
    """`n` tasks; the same arguments always give the same tasks."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    config = ArithTaskConfig(difficulty=difficulty)
    return [generate_task(seed, i, config) for i in range(n)]
