"""In-process parses are serialized: many threads parsing at once never hit CPython 3.11's shared AST depth counter."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from agentgym.pyast import parse

SOURCE = "def f(x):\n" + "".join(f"    x = [x, {{'k': (x, {i})}}]\n" for i in range(60)) + "    return x\n"


def test_parallel_parses_all_succeed_and_agree():
    with ThreadPoolExecutor(max_workers=8) as pool:
        trees = list(pool.map(lambda _: parse(SOURCE), range(200)))
    assert len({len(t.body[0].body) for t in trees}) == 1 and len(trees[0].body[0].body) == 61
