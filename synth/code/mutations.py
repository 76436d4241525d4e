"""SWE-smith-style procedural bugs: small AST mutations inside function bodies, each a precise text replacement.

A mutation replaces the source span of one node by the unparsed mutated node, so the rest of the file keeps its exact
formatting and the resulting diff is one or two lines. Only code inside functions is mutated (not docstrings,
decorators, signatures or module-level constants), which keeps imports and collection working.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from agentgym.pyast import parse

_FLIP_COMPARE: dict[type, type] = {
    ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}  # fmt: skip
_SWAP_BINOP: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
                                 ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd}  # fmt: skip
_NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift)
OPERATORS = ("flip_comparison", "off_by_one", "swap_operands", "change_operator", "swap_arguments",
             "remove_statement", "change_return", "invert_condition", "flip_boolean_operator")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Mutation:
    """One candidate bug: replace bytes [start, end) of `path` by `replacement`."""

    path: str
    operator: str
    line: int
    start: int
    end: int
    replacement: str

    def apply(self, source: str) -> str:
        raw = source.encode("utf-8")
        return (raw[: self.start] + self.replacement.encode("utf-8") + raw[self.end :]).decode("utf-8")


def _line_offsets(raw: bytes) -> list[int]:
    offsets = [0, 0]  # 1-based line numbers
    for i, b in enumerate(raw):
        if b == 0x0A:
            offsets.append(i + 1)
    return offsets


def _span(node: ast.AST, offsets: list[int]) -> tuple[int, int]:
    return offsets[node.lineno] + node.col_offset, offsets[node.end_lineno] + node.end_col_offset  # type: ignore[attr-defined]


def _variants(node: ast.AST, parent: ast.AST | None) -> Iterator[tuple[str, ast.AST | str]]:
    """(operator, mutated node or statement text) for one node."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIP_COMPARE:
        new = copy.deepcopy(node)
        new.ops = [_FLIP_COMPARE[type(node.ops[0])]()]
        yield "flip_comparison", new
    if (isinstance(node, ast.Constant) and type(node.value) is int and 0 <= node.value <= 10
            and not isinstance(parent, (ast.keyword,))):  # fmt: skip
        for delta in (1, -1):
            if node.value + delta >= 0:
                yield "off_by_one", ast.Constant(node.value + delta)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, _NON_COMMUTATIVE):
            yield "swap_operands", ast.BinOp(left=node.right, op=node.op, right=node.left)
        if type(node.op) in _SWAP_BINOP:
            yield "change_operator", ast.BinOp(left=node.left, op=_SWAP_BINOP[type(node.op)](), right=node.right)
    if isinstance(node, ast.Call) and len(node.args) >= 2 and not any(isinstance(a, ast.Starred) for a in node.args[:2]):
        new = copy.deepcopy(node)
        new.args[0], new.args[1] = new.args[1], new.args[0]
        if ast.dump(new.args[0]) != ast.dump(new.args[1]):
            yield "swap_arguments", new
    if isinstance(node, ast.BoolOp):
        yield "flip_boolean_operator", ast.BoolOp(op=ast.Or() if isinstance(node.op, ast.And) else ast.And(),
                                                  values=node.values)  # fmt: skip


def _statement_variants(stmt: ast.stmt, siblings: list[ast.stmt]) -> Iterator[tuple[str, ast.AST | str]]:
    if isinstance(stmt, (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign)) and len(siblings) > 1:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):  # not a docstring
            yield "remove_statement", "pass"
    if isinstance(stmt, ast.Return) and stmt.value is not None:
        value = stmt.value
        if isinstance(value, ast.Constant) and isinstance(value.value, bool):
            yield "change_return", f"return {not value.value}"
        elif not (isinstance(value, ast.Constant) and value.value is None):
            yield "change_return", "return None"
    if isinstance(stmt, (ast.If, ast.While)):
        yield "invert_condition", ast.UnaryOp(op=ast.Not(), operand=stmt.test)


def find_mutations(path: str, source: str) -> list[Mutation]:
    """Every mutation of the functions in `source`, in source order. A file that does not parse gives none."""
    try:
        tree = parse(source)
    except (SyntaxError, ValueError):
        return []
    raw = source.encode("utf-8")
    offsets = _line_offsets(raw)
    out: list[Mutation] = []

    def add(operator: str, target: ast.AST, new: ast.AST | str) -> None:
        start, end = _span(target, offsets)
        text = new if isinstance(new, str) else ast.unparse(new)
        is_multiline = target.lineno != target.end_lineno  # type: ignore[attr-defined]
        if not isinstance(new, str) and (_needs_parens(target) or is_multiline):
            text = f"({text})"
        if text.encode("utf-8") != raw[start:end]:
            out.append(Mutation(path, operator, target.lineno, start, end, text))  # type: ignore[attr-defined]

    def visit_body(body: list[ast.stmt]) -> None:
        for stmt in body:
            for operator, new in _statement_variants(stmt, body):
                target = stmt.test if operator == "invert_condition" else stmt  # type: ignore[attr-defined]
                add(operator, target, new)
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                        visit_body(inner)
            for handler in getattr(stmt, "handlers", []):
                visit_body(handler.body)
            for case in getattr(stmt, "cases", []):
                visit_body(case.body)
            for child in _expressions(stmt):
                for node, parent in _walk_expr(child, None):
                    for operator, new in _variants(node, parent):
                        add(operator, node, new)

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            visit_body(body)
    out.sort(key=lambda m: (m.start, m.operator, m.replacement))
    return out


def _needs_parens(target: ast.AST) -> bool:
    """Whether the replacement must be parenthesized to keep its meaning where it stands (any operator expression)."""
    return isinstance(target, (ast.BinOp, ast.BoolOp, ast.Compare, ast.UnaryOp, ast.IfExp))


def _expressions(stmt: ast.stmt) -> list[ast.expr]:
    """The expressions that belong to this statement itself (not to nested statements or nested functions)."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
        return []
    out = []
    for name, value in ast.iter_fields(stmt):
        if name in ("body", "orelse", "finalbody", "handlers", "cases", "annotation", "type_comment"):
            continue
        values = value if isinstance(value, list) else [value]
        out.extend(v for v in values if isinstance(v, ast.expr))
    return out


def _walk_expr(node: ast.AST, parent: ast.AST | None) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    if isinstance(node, (ast.Lambda, ast.JoinedStr)):  # f-string internals have unreliable spans
        return
    yield node, parent
    for child in ast.iter_child_nodes(node):
        yield from _walk_expr(child, node)
