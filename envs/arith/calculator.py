"""A safe arithmetic evaluator: walks the AST of numbers and + - * / // % ** and never calls eval."""

from __future__ import annotations

import ast
import math
import operator
from fractions import Fraction

from agentgym.toolenv import ToolError
from agentgym.pyast import parse

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
MAX_EXPRESSION_CHARS = 1_000
MAX_ABS_EXPONENT = 64
MAX_RESULT_DIGITS = 200


def evaluate(expression: str) -> int | float:
    """The value of `expression`; an exact integer when the result is whole.

    Raises:
        ToolError: the expression is not plain arithmetic, divides by zero, or is too large.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolError(f"expression too long ({len(expression)} characters; the limit is {MAX_EXPRESSION_CHARS})")
    try:
        tree = parse(expression.strip(), mode="eval")
    except SyntaxError as e:
        raise ToolError(f"cannot parse {expression!r}: {e.msg}") from None
    try:
        value = _eval(tree.body)
    except RecursionError:
        raise ToolError("expression is nested too deeply") from None
    if value.denominator == 1:
        return int(value)
    return float(value)


def _eval(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        if isinstance(node.value, int) and abs(node.value) >= 10**MAX_RESULT_DIGITS:  # before isfinite: float() overflows
            raise ToolError(f"number has more than {MAX_RESULT_DIGITS} digits")
        if not math.isfinite(node.value):
            raise ToolError(f"number {node.value!r} is out of range")
        return Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise ToolError("division by zero")
        if isinstance(node.op, ast.Pow):
            if right.denominator != 1 or abs(right) > MAX_ABS_EXPONENT:
                raise ToolError(f"exponent must be an integer with |exponent| <= {MAX_ABS_EXPONENT}")
            if left == 0 and right < 0:
                raise ToolError("division by zero")
        result = Fraction(_BINARY[type(node.op)](left, right))
        # Compare, don't str(): str() of a >4300-digit int raises, and a huge denominator is as costly as a numerator.
        if max(abs(result.numerator), result.denominator) >= 10**MAX_RESULT_DIGITS:
            raise ToolError(f"result has more than {MAX_RESULT_DIGITS} digits")
        return result
    what = type(getattr(node, "op", node)).__name__
    raise ToolError(
        f"unsupported syntax {what!r}: only numbers, parentheses and + - * / // % ** are allowed"
    )
