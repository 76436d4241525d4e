"""Data-analysis tasks over a CSV file the generator writes (placed in the kernel's working directory at reset).

The table is a seeded list of orders (region, product, units, unit price, day). Answers are computed here in exact
integer cents, so they do not depend on how pandas sums floats. Task i depends only on (seed, i, difficulty).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from agentgym.api import Task

FAMILY = "data_analysis"
KINDS = ("region_revenue", "top_product", "count_filter", "mean_units")
REGIONS = ("North", "South", "East", "West")
PRODUCTS = ("anvil", "bolt", "cable", "drill", "easel", "funnel")
FILE_NAME = "orders.csv"


@dataclass(frozen=True, kw_only=True, slots=True)
class DataAnalysisConfig:
    """Attributes:
    difficulty: 1..5; the table has 20 * 2**difficulty rows, and filters combine two columns from difficulty 3.
    """

    difficulty: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.difficulty, bool) or not isinstance(self.difficulty, int) or not 1 <= self.difficulty <= 5:
            raise ValueError(f"difficulty must be an integer in [1, 5], got {self.difficulty!r}")


def _rows(rng: random.Random, num_rows: int) -> list[tuple[int, str, str, int, int, int]]:
    """(order_id, region, product, units, unit price in cents, day) per order."""
    return [(i + 1, rng.choice(REGIONS), rng.choice(PRODUCTS), rng.randint(1, 20), rng.randint(100, 9999),
             rng.randint(1, 28)) for i in range(num_rows)]  # fmt: skip


def _csv(rows: list[tuple[int, str, str, int, int, int]]) -> str:
    lines = ["order_id,region,product,units,unit_price,day"]
    lines += [f"{o},{r},{p},{u},{c // 100}.{c % 100:02d},{d}" for o, r, p, u, c, d in rows]
    return "\n".join(lines) + "\n"


def _question(rng: random.Random, kind: str, rows: list, difficulty: int) -> tuple[str, str, str, float, str]:
    """(question, answer, answer kind, tolerance, solution code)."""
    load = f"import pandas as pd\ndf = pd.read_csv('{FILE_NAME}')\n"
    region = rng.choice(sorted({r for _, r, *_ in rows}))  # a region that has orders
    if kind == "region_revenue":
        cents = sum(u * c for _, r, _, u, c, _ in rows if r == region)
        question = (f"What is the total revenue (sum of units * unit_price) of the orders in region {region}? "
                    "Round to 2 decimal places.")  # fmt: skip
        code = load + f"sub = df[df.region == '{region}']\nprint(round(float((sub.units * sub.unit_price).sum()), 2))"
        return question, f"{cents // 100}.{cents % 100:02d}", "number", 0.0101, code
    if kind == "top_product":
        units = Counter()
        for _, r, p, u, _, _ in rows:
            if r == region:
                units[p] += u
        best = max(sorted(units), key=lambda p: units[p])  # ties: the alphabetically first
        question = (f"Which product sold the most units in total in region {region}? If several tie, give the "
                    "alphabetically first. Answer with the product name.")  # fmt: skip
        code = load + (f"totals = df[df.region == '{region}'].groupby('product').units.sum()\n"
                       "print(sorted(totals[totals == totals.max()].index)[0])")  # fmt: skip
        return question, best, "text", 0.0, code
    if kind == "count_filter":
        threshold = rng.randint(5, 15)
        if difficulty >= 3:
            max_cents = rng.randint(20, 80) * 100
            count = sum(1 for *_, u, c, _ in rows if u > threshold and c < max_cents)
            question = f"How many orders have more than {threshold} units and a unit_price below {max_cents // 100}?"
            code = load + f"print(int(((df.units > {threshold}) & (df.unit_price < {max_cents // 100})).sum()))"
        else:
            count = sum(1 for *_, u, _, _ in rows if u > threshold)
            question = f"How many orders have more than {threshold} units?"
            code = load + f"print(int((df.units > {threshold}).sum()))"
        return question, str(count), "integer", 0.0, code
    product = rng.choice(sorted({p for _, _, p, *_ in rows}))
    picked = [u for _, _, p, u, _, _ in rows if p == product]
    mean = Fraction(sum(picked), len(picked))
    question = f"What is the mean number of units per order for product {product}? Round to 3 decimal places."
    code = load + f"print(round(float(df[df['product'] == '{product}'].units.mean()), 3))"
    return question, f"{float(mean):.3f}", "number", 0.00101, code


def generate_task(seed: int, index: int, config: DataAnalysisConfig = DataAnalysisConfig()) -> Task:
    """Task `index` of the stream seeded by `seed`; `data["files"]` holds the CSV to place in the working directory."""
    rng = random.Random(f"{FAMILY}-{seed}-{index}-{config.difficulty}")
    rows = _rows(rng, 20 * 2**config.difficulty)
    kind = rng.choice(KINDS)
    question, answer, answer_kind, tolerance, code = _question(rng, kind, rows, config.difficulty)
    prompt = (f"The file {FILE_NAME} in the working directory lists orders with the columns order_id, region, "
              f"product, units, unit_price and day ({len(rows)} rows). {question} Use the Python kernel (pandas is "
              "available), then submit the answer.")  # fmt: skip
    return Task(
        id=f"jupyter-{FAMILY}-{seed}-{index}",
        env="jupyter",
        prompt=prompt,
        data={"family": FAMILY, "answer": answer, "answer_kind": answer_kind, "tolerance": tolerance,
              "solution_code": code, "files": {FILE_NAME: _csv(rows)}},
        meta={"generator": f"jupyter/{FAMILY}", "kind": kind, "seed": seed, "index": index,
              "difficulty": config.difficulty},
    )
