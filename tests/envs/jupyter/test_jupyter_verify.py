"""The answer checker: expressions by equivalence (never string equality), numbers, integers, names, hostile input."""

from __future__ import annotations

import time

import pytest

from agentgym.envs.jupyter.verify import check_answer


def expression(expected: str, given: str) -> bool:
    return check_answer(given, {"answer_kind": "expression", "answer": expected}).passed


@pytest.mark.parametrize("given", ["2*x + 1", "1 + 2x", "1+2*x", "$1 + 2x$", "f'(x) = 2x + 1", "x + x + 1"])
def test_equivalent_forms_of_an_expression_pass(given):
    assert expression("2*x + 1", given)


@pytest.mark.parametrize(("expected", "given"), [
    ("x**2*exp(x)", "e^x x^2"), ("sin(x)**2", "1 - cos(x)^2"), ("log(x)", "ln(x)"), ("x**3/3", r"\frac{x^{3}}{3}"),
    ("-3/2 + 3*cos(2)/2 + 8*sin(1)", "8 sin(1) + 1.5 cos(2) - 1.5"), ("pi/4", r"\frac{\pi}{4}"),
])  # fmt: skip
def test_sympy_and_latex_answers_are_compared_mathematically(expected, given):
    assert expression(expected, given)


@pytest.mark.parametrize("given", ["2*x + 2", "2*x", "2*x + 1 + y", "2*x + 1 (wrong)", "", "x**2 + 1"])
def test_different_or_malformed_expressions_fail(given):
    assert not expression("2*x + 1", given)


@pytest.mark.parametrize("given", ["9**9**9**9", "(2*x+1)**100000", "2^{2^{2^{99}}}", "diff(x**2 + x, x)",
                                   "x.__class__", "__import__('os')", "x" * 500])  # fmt: skip
def test_hostile_answers_are_rejected_quickly_with_a_reason(given):
    start = time.process_time()  # CPU time of this process (the check runs in it): machine load does not count
    verdict = check_answer(given, {"answer_kind": "expression", "answer": "2*x + 1"})
    assert time.process_time() - start < 2.0
    assert not verdict.passed and verdict.reward == 0.0
    assert verdict.reasons[0].startswith("answer not accepted: ")


def test_integers_numbers_and_names():
    integer = {"answer_kind": "integer", "answer": "1234"}
    assert check_answer("1,234", integer).passed and check_answer(" 1234.0 ", integer).passed
    assert not check_answer("1235", integer).passed and not check_answer("1234 apples", integer).passed
    number = {"answer_kind": "number", "answer": "12.34", "tolerance": 0.0101}
    assert check_answer("12.345", number).passed and check_answer("12.3400001", number).passed
    assert not check_answer("12.36", number).passed and not check_answer("twelve", number).passed
    name = {"answer_kind": "text", "answer": "easel"}
    assert check_answer(" Easel.", name).passed and not check_answer("anvil", name).passed
    verdict = check_answer("1234", integer)
    assert verdict.reward == 1.0 and verdict.components == {"accuracy": 1.0}
    assert verdict.reasons == ["answer '1234' matches the expected integer (exact integer)"]
