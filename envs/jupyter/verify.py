"""Checks a submitted answer against a task's verified answer: integers exactly, numbers within a tolerance, names
case-insensitively, and expressions by mathematical equivalence (never by string).

Expressions are parsed from Python/sympy text (``2*x + 1``, ``1 + 2x``, ``x^2``) with a whitelist of names, or from
LaTeX (``\\frac{x^{3}}{3}``) with math-verify, and compared numerically at fixed points. The answer is untrusted text:
its length, names and exponent sizes are bounded before sympy evaluates anything, so a submission such as
``9**9**9**9`` or ``diff(...)`` cannot make the verifier hang or do the agent's work.
"""

from __future__ import annotations

import cmath
import re
from fractions import Fraction
from typing import Any

from agentgym.api import Verdict

MAX_ANSWER_CHARS = 400
MAX_ABS_EXPONENT = 1000
CHECK_POINTS = (0.31, 0.73, 1.37, 2.11, -0.57, -1.43)
REL_TOLERANCE = 1e-9
ALLOWED_NAMES = frozenset({"x", "sin", "cos", "tan", "exp", "log", "ln", "sqrt", "pi", "E", "e", "asin", "acos",
                           "atan", "sinh", "cosh", "tanh", "Abs", "abs"})  # fmt: skip
_PLAIN = re.compile(r"^[0-9A-Za-z_+\-*/^().,\s]*$")
_PREFIX = re.compile(r"^\s*(?:[A-Za-z]'*(?:\(\s*x\s*\))?|y)\s*=\s*")  # "f'(x) = ...", "F(x) = ...", "y = ..."


class AnswerError(ValueError):
    """The submission cannot be read as the kind of answer the task wants; the message says why."""


def parse_integer(text: str) -> int:
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "")
    if re.fullmatch(r"[+-]?\d+(\.0*)?", cleaned) is None:
        raise AnswerError(f"{text!r} is not an integer")
    return int(cleaned.split(".")[0])


def parse_number(text: str) -> Fraction:
    try:
        return Fraction(text.strip().replace(",", ""))
    except (ValueError, ZeroDivisionError):
        raise AnswerError(f"{text!r} is not a number") from None


def normalize_text(text: str) -> str:
    return text.strip().strip("'\"`.").strip().casefold()


def _bounded(expr: Any) -> Any:
    """`expr` (parsed unevaluated) if every numeric exponent in it is small; raises AnswerError otherwise."""
    import sympy

    for node in sympy.postorder_traversal(expr):
        if isinstance(node, sympy.Integer) and abs(int(node)) > 10**60:
            raise AnswerError("the answer contains an integer with more than 60 digits")
        if isinstance(node, sympy.Pow) and node.exp.is_number:
            value = complex(sympy.N(node.exp, 15))
            if abs(value) > MAX_ABS_EXPONENT:
                raise AnswerError(f"the answer contains an exponent larger than {MAX_ABS_EXPONENT}")
    return expr


def parse_expression(text: str) -> Any:
    """A sympy expression in x from Python/sympy text or LaTeX.

    Raises:
        AnswerError: the text is too long, uses a name outside `ALLOWED_NAMES`, or does not parse.
    """
    import sympy
    from sympy.parsing.sympy_parser import (convert_xor, implicit_multiplication_application, parse_expr,
                                            standard_transformations)  # fmt: skip

    text = text.strip().strip("$").strip()
    if not text:
        raise AnswerError("the answer is empty")
    if len(text) > MAX_ANSWER_CHARS:
        raise AnswerError(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    text = _PREFIX.sub("", text, count=1)
    if "\\" in text or "{" in text:
        return _parse_latex(text)
    if _PLAIN.match(text) is None:
        raise AnswerError("the answer may only contain numbers, x, + - * / ^ ( ) and function names")
    names = set(re.findall(r"[A-Za-z_]+", re.sub(r"\d+\.?\d*[eE][+-]?\d+", "0", text)))
    unknown = sorted(names - ALLOWED_NAMES)
    if unknown:
        raise AnswerError(f"unknown names {unknown}; use x and {sorted(ALLOWED_NAMES - {'x'})}")
    x = sympy.Symbol("x")
    special = {"x": x, "e": sympy.E, "E": sympy.E, "pi": sympy.pi, "ln": sympy.log, "abs": sympy.Abs}
    namespace = {**{n: getattr(sympy, n) for n in ALLOWED_NAMES - set(special)}, **special}
    transformations = (*standard_transformations, convert_xor, implicit_multiplication_application)
    try:
        # Every name in `text` is whitelisted above, so sympy's own namespace (the default globals) is safe here.
        raw = parse_expr(text, local_dict=namespace, transformations=transformations, evaluate=False)
        _bounded(raw)
        return sympy.sympify(str(raw), locals=namespace)
    except AnswerError:
        raise
    except Exception as e:  # noqa: BLE001 - sympy raises many types for malformed text
        raise AnswerError(f"could not parse {text!r} as an expression ({type(e).__name__})") from None


def _parse_latex(text: str) -> Any:
    if text.count("^") > 8 or re.search(r"\^\{[^}]*\^", text) or re.search(r"\d{61}", text):
        raise AnswerError("the LaTeX answer has nested or too many exponents")
    from math_verify import LatexExtractionConfig, parse

    # No signal-based timeout (it only works on the main thread); the guards above bound the work instead.
    parsed = parse(f"${text}$", extraction_config=[LatexExtractionConfig()], parsing_timeout=None)  # type: ignore
    if not parsed:
        raise AnswerError(f"could not parse the LaTeX answer {text!r}")
    return _bounded(parsed[0])


def _value_at(expr: Any, point: float) -> complex | None:
    import sympy

    try:
        subs = {s: point for s in expr.free_symbols}
        value = complex(sympy.N(expr.subs(subs), 30))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return value if cmath.isfinite(value) else None


def expressions_equivalent(expected: Any, given: Any) -> bool:
    """True when both agree (relative 1e-9) at every check point where either is finite, at 3 points at least."""
    if {s.name for s in given.free_symbols} - {s.name for s in expected.free_symbols}:
        return False
    num_agreeing = 0
    for point in CHECK_POINTS:
        a, b = _value_at(expected, point), _value_at(given, point)
        if a is None and b is None:
            continue
        if a is None or b is None or abs(a - b) > REL_TOLERANCE * max(1.0, abs(a)):
            return False
        num_agreeing += 1
    return num_agreeing >= 3 or (not expected.free_symbols and num_agreeing >= 1)


def _expected_expression(text: str) -> Any:
    try:
        return parse_expression(text)
    except AnswerError as e:  # the task's own answer must parse: that is an env bug, not the agent's mistake
        raise ValueError(f"the task's expected answer does not parse: {e}") from None


def check_answer(answer: str, data: dict[str, Any]) -> Verdict:
    """The verdict for `answer` on a task whose `data` holds `answer`, `answer_kind` and (numbers) `tolerance`."""
    kind, expected = data["answer_kind"], str(data["answer"])
    try:
        if kind == "integer":
            passed, how = parse_integer(answer) == int(expected), "exact integer"
        elif kind == "number":
            tolerance = Fraction(str(data.get("tolerance", 0)))
            passed, how = abs(parse_number(answer) - Fraction(expected)) <= tolerance, f"within {float(tolerance):g}"
        elif kind == "text":
            passed, how = normalize_text(answer) == normalize_text(expected), "case-insensitive name"
        elif kind == "expression":
            given = parse_expression(answer)
            passed = expressions_equivalent(_expected_expression(expected), given)
            how = "equivalent expression"
        else:
            raise ValueError(f"task data has an unknown answer_kind {kind!r}")
    except AnswerError as e:
        return Verdict(reward=0.0, passed=False, reasons=[f"answer not accepted: {e}"], components={"accuracy": 0.0})
    verb = "matches" if passed else "does not match"
    reason = f"answer {answer.strip()[:200]!r} {verb} the expected {kind} ({how})"
    return Verdict(reward=float(passed), passed=passed, reasons=[reason], components={"accuracy": float(passed)})


__all__ = ["AnswerError", "check_answer", "expressions_equivalent", "parse_expression"]
