"""Number-theory tasks that need a computation (sums of primes, modular powers, divisor counts, Fibonacci residues).

Task i depends only on (seed, i, difficulty). The answer is computed here on the host; `solution_code` is what a
solver would run in the kernel, and the oracle test runs it there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agentgym.api import Task

FAMILY = "number_theory"
KINDS = ("prime_sum", "power_mod", "divisor_count", "fibonacci_mod")


@dataclass(frozen=True, kw_only=True, slots=True)
class NumberTheoryConfig:
    """Attributes:
    difficulty: 1..5; scales the numbers (primes below ~20k*d^2, exponents up to 10^(6+d), ...).
    """

    difficulty: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.difficulty, bool) or not isinstance(self.difficulty, int) or not 1 <= self.difficulty <= 5:
            raise ValueError(f"difficulty must be an integer in [1, 5], got {self.difficulty!r}")


def _prime_sum(limit: int) -> int:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for p in range(2, int(limit**0.5) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, limit, p)))
    return sum(i for i, is_prime in enumerate(sieve) if is_prime)


def _fibonacci_mod(n: int, m: int) -> int:
    """F(n) mod m by fast doubling (F(0) = 0, F(1) = 1)."""
    a, b = 0, 1
    for bit in bin(n)[2:]:
        c = a * (2 * b - a) % m
        d = (a * a + b * b) % m
        a, b = (d, (c + d) % m) if bit == "1" else (c, d)
    return a


_SMALL_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47)


def _question(rng: random.Random, kind: str, d: int) -> tuple[str, int, str]:
    """(question, answer, solution code) for one task."""
    if kind == "prime_sum":
        limit = rng.randint(5_000, 20_000) * d * d
        code = (f"N = {limit}\nsieve = bytearray([1]) * N\nsieve[0:2] = b'\\x00\\x00'\n"
                "for p in range(2, int(N**0.5) + 1):\n    if sieve[p]:\n"
                "        sieve[p*p::p] = bytes(len(range(p*p, N, p)))\n"
                "print(sum(i for i in range(N) if sieve[i]))")  # fmt: skip
        return f"What is the sum of all prime numbers below {limit}?", _prime_sum(limit), code
    if kind == "power_mod":
        base, exponent = rng.randint(2, 10**6), rng.randint(10**5, 10 ** (6 + d))
        modulus = 10**6
        question = (f"What are the last six digits of {base}^{exponent}, read as an integer "
                    f"(that is, {base}^{exponent} mod {modulus})?")
        return question, pow(base, exponent, modulus), f"print(pow({base}, {exponent}, {modulus}))"
    if kind == "divisor_count":
        primes = rng.sample(_SMALL_PRIMES, 2 + d)
        exponents = [rng.randint(1, 3 + d) for _ in primes]
        n = 1
        count = 1
        for p, e in zip(primes, exponents):
            n *= p**e
            count *= e + 1
        return f"How many positive divisors does {n} have?", count, f"import sympy\nprint(sympy.divisor_count({n}))"
    index, modulus = rng.randint(10 ** (2 + d), 10 ** (4 + d)), rng.choice((10**9 + 7, 998_244_353, 10**6 + 3))
    code = ("def fib(n, m):\n    a, b = 0, 1\n    for bit in bin(n)[2:]:\n"
            "        c, d = a * (2 * b - a) % m, (a * a + b * b) % m\n"
            "        a, b = (d, (c + d) % m) if bit == '1' else (c, d)\n"
            f"    return a\nprint(fib({index}, {modulus}))")
    question = f"With F(0) = 0, F(1) = 1 and F(n) = F(n-1) + F(n-2), what is F({index}) mod {modulus}?"
    return question, _fibonacci_mod(index, modulus), code


def generate_task(seed: int, index: int, config: NumberTheoryConfig = NumberTheoryConfig()) -> Task:
    """Task `index` of the stream seeded by `seed`; its verified integer answer is in `data["answer"]`."""
    rng = random.Random(f"{FAMILY}-{seed}-{index}-{config.difficulty}")
    kind = rng.choice(KINDS)
    question, answer, code = _question(rng, kind, config.difficulty)
    return Task(
        id=f"jupyter-{FAMILY}-{seed}-{index}",
        env="jupyter",
        prompt=f"{question} Use the Python kernel to compute it, then submit the integer.",
        data={"family": FAMILY, "answer": str(answer), "answer_kind": "integer", "solution_code": code},
        meta={"generator": f"jupyter/{FAMILY}", "kind": kind, "seed": seed, "index": index,
              "difficulty": config.difficulty},
    )
