"""Sample code_repair tasks over the bundled `minilib` repository: eight hand-written bugs with their issue reports."""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

from agentgym.api import Task
from agentgym.envs.code_repair.fixture_repo import FILES, ensure_repo
from agentgym.envs.code_repair.patch import make_diff
from agentgym.envs.code_repair.snapshot import tree_sha256
from agentgym.pyast import parse


@dataclass(frozen=True, slots=True)
class Bug:
    key: str
    path: str
    correct: str
    broken: str
    fail_to_pass: tuple[str, ...]
    issue: str


BUGS: tuple[Bug, ...] = (
    Bug("clamp-below", "minilib/numbers.py", "    if x < lo:\n        return lo\n", "    if x < lo:\n        return hi\n",
        ("tests/test_numbers.py::test_clamp_below",),
        "`clamp(-3, 0, 10)` returns 10 instead of 0: values below the interval are clamped to the wrong end."),
    Bug("median-even", "minilib/numbers.py", "(ordered[mid - 1] + ordered[mid]) / 2", "(ordered[mid] + ordered[mid + 1]) / 2",
        ("tests/test_numbers.py::test_median_even",),
        "`median([4, 1, 3, 2])` gives 3.5, but the median of 1, 2, 3, 4 is 2.5."),
    Bug("prime-squares", "minilib/numbers.py", "while k * k <= n:", "while k * k < n:",
        ("tests/test_numbers.py::test_is_prime_false[4]", "tests/test_numbers.py::test_is_prime_false[9]",
         "tests/test_numbers.py::test_is_prime_false[49]"),
        "`is_prime` says that 4, 9 and 49 are prime. Squares of primes are reported as primes."),
    Bug("truncate-exact", "minilib/text.py", "if len(text) <= width:", "if len(text) < width:",
        ("tests/test_text.py::test_truncate_exact",),
        "`truncate('abcde', 5)` returns 'ab...' although the text already fits in 5 characters."),
    Bug("slugify-last-word", "minilib/text.py", "    if current:\n        words.append(current)\n    return", "    return",
        ("tests/test_text.py::test_slugify_sep", "tests/test_text.py::test_slugify_digits"),
        "`slugify('Python 3.11 rocks')` returns 'python-3-11': the last word is dropped when the text does not "
        "end with punctuation."),
    Bug("window-last", "minilib/seqs.py", "range(len(xs) - n + 1)", "range(len(xs) - n)",
        ("tests/test_seqs.py::test_window",),
        "`window([1, 2, 3, 4], 3)` returns only [(1, 2, 3)]; the last window (2, 3, 4) is missing."),
    Bug("dedupe-seen", "minilib/seqs.py", "            seen.add(x)\n", "",
        ("tests/test_seqs.py::test_dedupe",),
        "`dedupe([3, 1, 3, 2, 1])` returns the input unchanged instead of [3, 1, 2]."),
    Bug("flatten-extend", "minilib/seqs.py", "out.extend(xs)", "out.append(xs)",
        ("tests/test_seqs.py::test_flatten",),
        "`flatten([[1], [], [2, 3]])` returns the nested lists themselves instead of [1, 2, 3]."),
)  # fmt: skip


def all_test_ids() -> list[str]:
    """Every node id of the bundled suite (plain functions and literal `parametrize` lists)."""
    ids: list[str] = []
    for path, source in sorted(FILES.items()):
        if not path.startswith("tests/test_"):
            continue
        for node in parse(source).body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test")):
                continue
            params = [d for d in node.decorator_list if isinstance(d, ast.Call) and "parametrize" in ast.unparse(d.func)]
            if params:
                values = ast.literal_eval(params[0].args[1])
                ids.extend(f"{path}::{node.name}[{v}]" for v in values)
            else:
                ids.append(f"{path}::{node.name}")
    return ids


def bug_task(bug: Bug, *, task_id: str | None = None) -> Task:
    """The task for one bug: snapshot = the clean repository, `bug_patch` breaks it, `gold_patch` repairs it."""
    repo = ensure_repo()
    clean = FILES[bug.path]
    if clean.count(bug.correct) != 1:
        raise ValueError(f"bug {bug.key!r}: its correct text must occur exactly once in {bug.path}")
    broken = clean.replace(bug.correct, bug.broken)
    f2p = list(bug.fail_to_pass)
    p2p = [t for t in all_test_ids() if t not in f2p]
    prompt = (
        f"Issue in minilib: {bug.issue}\n\nFix the library so that it behaves as documented. "
        "Do not change the tests."
    )
    return Task(
        id=task_id or f"minilib-{bug.key}",
        env="code_repair",
        prompt=prompt,
        data={
            "repo": str(repo),
            "repo_sha256": tree_sha256(repo),
            "bug_patch": make_diff(bug.path, clean, broken),
            "gold_patch": make_diff(bug.path, broken, clean),
            "fail_to_pass": f2p,
            "pass_to_pass": p2p,
        },
        meta={"generator": "code_repair.fixture", "bug": bug.key, "project": "minilib==1.0"},
    )


def fixture_tasks(n: int, *, seed: int = 0) -> list[Task]:
    """`n` tasks, a seeded shuffle of the bugs (repeated with new ids when `n` exceeds their number)."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    order = list(BUGS)
    random.Random(f"code_repair-fixture-{seed}").shuffle(order)
    tasks = []
    for i in range(n):
        bug = order[i % len(order)]
        suffix = "" if i < len(order) else f"-{i // len(order)}"
        tasks.append(bug_task(bug, task_id=f"minilib-{bug.key}{suffix}"))
    return tasks
