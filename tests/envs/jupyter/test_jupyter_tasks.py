"""Task generators: seeded determinism, the difficulty knob, the family mix, and answers checked independently."""

from __future__ import annotations

import csv
import io

import pytest
import sympy

from agentgym.envs.jupyter import FAMILIES, generate_tasks
from agentgym.envs.jupyter.tasks import data_analysis, number_theory, symbolic
from agentgym.envs.jupyter.verify import check_answer


def test_same_arguments_same_tasks_and_other_seeds_differ():
    first = generate_tasks(6, seed=11, difficulty=2)
    assert first == generate_tasks(6, seed=11, difficulty=2)
    assert [t.prompt for t in first] != [t.prompt for t in generate_tasks(6, seed=12, difficulty=2)]
    assert [t.prompt for t in first] != [t.prompt for t in generate_tasks(6, seed=11, difficulty=4)]


def test_families_are_mixed_round_robin_from_the_seed():
    assert [t.data["family"] for t in generate_tasks(6, seed=0)] == [*FAMILIES, *FAMILIES]
    assert [t.data["family"] for t in generate_tasks(3, seed=1)] == [FAMILIES[1], FAMILIES[2], FAMILIES[0]]
    assert {t.data["family"] for t in generate_tasks(4, families=("symbolic",))} == {"symbolic"}
    assert len({t.id for t in generate_tasks(30, seed=5)}) == 30


@pytest.mark.parametrize("bad", [0, 6, 2.5, True])
def test_difficulty_is_validated_naming_the_field(bad):
    with pytest.raises(ValueError, match=r"difficulty must be an integer in \[1, 5\]"):
        generate_tasks(1, difficulty=bad)
    for config in (number_theory.NumberTheoryConfig, symbolic.SymbolicConfig, data_analysis.DataAnalysisConfig):
        with pytest.raises(ValueError, match="difficulty"):
            config(difficulty=bad)
    with pytest.raises(ValueError, match="families must be a non-empty subset"):
        generate_tasks(1, families=("chess",))


def test_difficulty_scales_the_problems():
    easy = data_analysis.generate_task(0, 0, data_analysis.DataAnalysisConfig(difficulty=1))
    hard = data_analysis.generate_task(0, 0, data_analysis.DataAnalysisConfig(difficulty=5))
    assert easy.data["files"]["orders.csv"].count("\n") == 41 and hard.data["files"]["orders.csv"].count("\n") == 641
    short = symbolic.generate_task(0, 0, symbolic.SymbolicConfig(difficulty=1)).prompt
    long = symbolic.generate_task(0, 0, symbolic.SymbolicConfig(difficulty=5)).prompt
    assert long.count("x") > short.count("x")


def test_number_theory_answers_agree_with_sympy():
    for i in range(12):
        task = number_theory.generate_task(4, i, number_theory.NumberTheoryConfig(difficulty=2))
        kind, answer = task.meta["kind"], int(task.data["answer"])
        numbers = [int(n) for n in __import__("re").findall(r"\d+", task.prompt.split("?")[0])]
        if kind == "prime_sum":
            assert answer == sum(sympy.primerange(numbers[0]))
        elif kind == "power_mod":
            assert answer == pow(numbers[0], numbers[1], 10**6)
        elif kind == "divisor_count":
            assert answer == sympy.divisor_count(numbers[0])
        else:
            assert answer == sympy.fibonacci(numbers[-2]) % numbers[-1]


def test_symbolic_answers_are_checked_against_sympy_and_accept_other_forms():
    x = sympy.Symbol("x")
    for i in range(6):
        task = symbolic.generate_task(2, i, symbolic.SymbolicConfig(difficulty=2))
        expected = sympy.sympify(task.data["answer"])
        shown = task.prompt.split("f(x) = ")[1].split(". What")[0].split(" for x from")[0]
        f = sympy.sympify(shown)
        if task.meta["kind"] == "derivative":
            assert sympy.simplify(expected - sympy.diff(f, x)) == 0
        elif task.meta["kind"] == "antiderivative":
            assert sympy.simplify(sympy.diff(expected, x) - f) == 0 and expected.subs(x, 0) == 0
        latex = sympy.latex(expected)
        assert check_answer(latex, task.data).passed, latex
        assert check_answer(str(sympy.expand(expected)), task.data).passed


def test_data_analysis_answers_agree_with_the_csv():
    for i in range(8):
        task = data_analysis.generate_task(1, i, data_analysis.DataAnalysisConfig(difficulty=2))
        rows = list(csv.DictReader(io.StringIO(task.data["files"]["orders.csv"])))
        assert len(rows) == 80 and set(rows[0]) == {"order_id", "region", "product", "units", "unit_price", "day"}
        if task.meta["kind"] == "region_revenue":
            region = task.prompt.split("in region ")[1].split("?")[0]
            total = sum(int(r["units"]) * float(r["unit_price"]) for r in rows if r["region"] == region)
            assert abs(total - float(task.data["answer"])) < 0.01
        elif task.meta["kind"] == "mean_units":
            product = task.prompt.split("for product ")[1].split("?")[0]
            units = [int(r["units"]) for r in rows if r["product"] == product]
            assert abs(sum(units) / len(units) - float(task.data["answer"])) < 0.001
