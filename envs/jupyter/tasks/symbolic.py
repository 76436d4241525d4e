"""Symbolic-math tasks whose answer is an expression in x (derivatives, antiderivatives, definite integrals).

Answers are checked for mathematical equivalence (`verify.expressions_equivalent`), never by string: ``2*x + 1`` and
``1 + 2x`` both pass. Task i depends only on (seed, i, difficulty); sympy is imported when a task is generated.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agentgym.api import Task

FAMILY = "symbolic"
KINDS = ("derivative", "antiderivative", "definite_integral")
_PRELUDE = "from sympy import *\nx = Symbol('x')\n"


@dataclass(frozen=True, kw_only=True, slots=True)
class SymbolicConfig:
    """Attributes:
    difficulty: 1..5; the number of terms in f(x) is difficulty + 1, and products appear from difficulty 3.
    """

    difficulty: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.difficulty, bool) or not isinstance(self.difficulty, int) or not 1 <= self.difficulty <= 5:
            raise ValueError(f"difficulty must be an integer in [1, 5], got {self.difficulty!r}")


def _term(rng: random.Random, difficulty: int) -> str:
    """One term of f(x), as sympy source text."""
    c, a, k = rng.randint(1, 9) * rng.choice((1, -1)), rng.randint(1, 4), rng.randint(1, 4)
    atoms = [f"{c}*x**{k}", f"{c}*sin({a}*x)", f"{c}*cos({a}*x)", f"{c}*exp({a}*x)"]
    if difficulty >= 3:
        atoms += [f"{c}*x*exp({a}*x)", f"{c}*x*sin({a}*x)", f"{c}*x**2*cos({a}*x)"]
    return rng.choice(atoms)


def _question(rng: random.Random, kind: str, difficulty: int) -> tuple[str, str, str]:
    """(question, answer as sympy text, solution code) for one task."""
    import sympy

    x = sympy.Symbol("x")
    source = " + ".join(_term(rng, difficulty) for _ in range(difficulty + 1))
    f = sympy.sympify(source, locals={"x": x})
    shown = str(f)
    if kind == "derivative":
        answer = sympy.diff(f, x)
        question = f"Let f(x) = {shown}. What is f'(x), the derivative of f with respect to x?"
        code = f"{_PRELUDE}print(diff({shown}, x))"
    elif kind == "antiderivative":
        antiderivative = sympy.integrate(f, x)
        answer = sympy.expand(antiderivative - antiderivative.subs(x, 0))
        question = f"Let f(x) = {shown}. What is the antiderivative F(x) of f with F(0) = 0?"
        code = f"{_PRELUDE}F = integrate({shown}, x)\nprint(expand(F - F.subs(x, 0)))"
    else:
        upper = rng.choice(("1", "2", "pi", "pi/2"))
        answer = sympy.simplify(sympy.integrate(f, (x, 0, sympy.sympify(upper))))
        question = f"What is the exact value of the integral of f(x) = {shown} for x from 0 to {upper}?"
        code = f"{_PRELUDE}print(simplify(integrate({shown}, (x, 0, {upper}))))"
    return question, str(answer), code


def generate_task(seed: int, index: int, config: SymbolicConfig = SymbolicConfig()) -> Task:
    """Task `index` of the stream seeded by `seed`; its answer (sympy text) is in `data["answer"]`."""
    rng = random.Random(f"{FAMILY}-{seed}-{index}-{config.difficulty}")
    kind = rng.choice(KINDS)
    question, answer, code = _question(rng, kind, config.difficulty)
    return Task(
        id=f"jupyter-{FAMILY}-{seed}-{index}",
        env="jupyter",
        prompt=(f"{question} Use the Python kernel (sympy is available), then submit the answer as an exact "
                "expression in Python/sympy syntax, e.g. 3*x**2 + exp(2*x)/2 - pi/4."),
        data={"family": FAMILY, "answer": answer, "answer_kind": "expression", "solution_code": code},
        meta={"generator": f"jupyter/{FAMILY}", "kind": kind, "seed": seed, "index": index,
              "difficulty": config.difficulty},
    )
