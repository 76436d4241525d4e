"""AST mutation operators: each produces the expected one-span edit, every mutant compiles, docstrings stay put."""

from __future__ import annotations

from agentgym.synth.code.mutations import OPERATORS, find_mutations
from agentgym.synth.code.pipeline import is_source_file

SOURCE = '''"""Module docstring with x < y inside."""

LIMIT = 3


def f(xs, lo, hi):
    """Docstring: if a < b then 1."""
    total = 0
    for x in xs:
        if lo <= x and x < hi:
            total += x - 1
    print(lo, hi)
    return total > 2


def g():
    return True
'''


def mutants():
    return {(m.operator, SOURCE.encode()[m.start : m.end].decode(), m.replacement) for m in find_mutations("m.py", SOURCE)}


def test_every_operator_fires_with_the_expected_replacement():
    found = mutants()
    expected = {
        ("flip_comparison", "lo <= x", "(lo > x)"),
        ("flip_comparison", "x < hi", "(x >= hi)"),
        ("off_by_one", "1", "2"),
        ("off_by_one", "0", "1"),
        ("swap_operands", "x - 1", "(1 - x)"),
        ("change_operator", "x - 1", "(x + 1)"),
        ("swap_arguments", "print(lo, hi)", "print(hi, lo)"),
        ("remove_statement", "total = 0", "pass"),
        ("change_return", "return total > 2", "return None"),
        ("change_return", "return True", "return False"),
        ("invert_condition", "lo <= x and x < hi", "(not (lo <= x and x < hi))"),
        ("flip_boolean_operator", "lo <= x and x < hi", "(lo <= x or x < hi)"),
    }
    assert expected <= found
    assert {op for op, _, _ in found} == set(OPERATORS)


def test_mutants_compile_and_leave_docstrings_and_module_constants_alone():
    muts = find_mutations("m.py", SOURCE)
    doc_end = SOURCE.encode().index(b"total = 0")
    for m in muts:
        compile(m.apply(SOURCE), "m.py", "exec")
        assert m.start >= SOURCE.encode().index(b"    total = 0") or m.start > doc_end
    assert all("LIMIT" not in SOURCE.encode()[m.start : m.end].decode() for m in muts)
    assert find_mutations("m.py", SOURCE) == muts  # deterministic
    assert find_mutations("bad.py", "def (:\n") == []


def test_non_ascii_offsets_are_byte_exact():
    src = 'def h(s):\n    return "é" + s if len(s) > 1 else s\n'
    for m in find_mutations("u.py", src):
        compile(m.apply(src), "u.py", "exec")
    flipped = [m for m in find_mutations("u.py", src) if m.operator == "flip_comparison"]
    assert flipped[0].apply(src) == 'def h(s):\n    return "é" + s if (len(s) <= 1) else s\n'


def test_only_library_files_are_mutated():
    assert is_source_file("src/pkg/core.py") and is_source_file("pkg/util.py")
    for rel in ("tests/test_core.py", "pkg/tests/helpers.py", "docs/conf.py", "setup.py", "pkg/conftest.py",
                "test_x.py", "x_test.py", "README.md"):  # fmt: skip
        assert not is_source_file(rel), rel
