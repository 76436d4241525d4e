"""The pieces of the quality checks: the tools-only AST rule, non-answer generation and MinHash dedup."""

from __future__ import annotations

import random

import pytest
from agentgym.synth.general.dedup import (
    DedupIndex,
    minhash,
    normalize_prompt,
    similarity,
    tool_signature,
)
from agentgym.synth.general.nonanswers import (
    mutations,
    non_answers,
    normalized,
    prompt_guesses,
)
from agentgym.synth.general.solution_ast import check_tools_only

GOOD = '''
P = {"city": "Lyon"}


def solution(tools):
    hotels = sorted(tools.search_hotels(city=P["city"]), key=lambda h: h["price"])
    names = []
    for h in hotels:
        names.append(h["name"].lower())
    return {"n": len(names)}
'''


def test_a_tools_only_solution_passes():
    assert check_tools_only(GOOD, ["search_hotels"]) == []


@pytest.mark.parametrize("source, problem", [
    ("import os\ndef solution(tools):\n    return 1\n", "Import is not allowed"),
    ("def solution(tools):\n    return tools.__class__\n", "private attribute '__class__'"),
    ("def solution(tools):\n    return open('db.sqlite').read()\n", "name 'open' is not allowed"),
    ("def solution(tools):\n    return tools.drop_db()\n", "tools.drop_db is not a tool"),
    ("def solution(tools):\n    return tools.search_hotels('Lyon')\n", "must be called with keyword arguments"),
    ("def solution(tools):\n    return getattr(tools, 'x')\n", "name 'getattr' is not allowed"),
    ("x = print('hi')\ndef solution(tools):\n    return 1\n", "only functions and constant assignments"),
    ("def helper(tools):\n    return 1\n", "no top-level `def solution(tools)`"),
    ("def solution(tools):\n    return db.execute('x')\n", "name 'db' is not allowed"),
])
def test_forbidden_solutions_are_named(source, problem):
    problems = check_tools_only(source, ["search_hotels"])
    assert any(problem in p for p in problems), problems


def test_non_answers_never_include_the_right_answer_and_mutate_one_field():
    answer = {"hotel": "H12", "total": 300, "ids": ["a", "b"]}
    schema = {"type": "object", "properties": {"hotel": {"type": "string"}, "total": {"type": "integer"},
                                               "ids": {"type": "array", "items": {"type": "string"}}}}
    calls = [{"result": [{"hotel_id": "H12"}, {"hotel_id": "H40"}, {"price": 120}]}]
    kinds = non_answers(answer, schema, others=[answer, {"hotel": "H40", "total": 1, "ids": []}], calls=calls,
                        rng=random.Random(0))
    assert kinds["other_task"] == [{"hotel": "H40", "total": 1, "ids": []}]
    assert kinds["default"] == [{"hotel": "", "total": 0, "ids": []}]
    right = normalized(answer)
    assert all(normalized(v) != right for values in kinds.values() for v in values)
    for mutant in mutations(answer, schema, random.Random(1), ["H12", "H40"]):
        assert sum(mutant[k] != answer[k] for k in answer) == 1
    assert {"hotel": "H13".lower(), "total": 300, "ids": ["a", "b"]} not in kinds["mutation"]
    guesses = prompt_guesses("Find the hotel in Lyon under 300.", schema, random.Random(0))
    assert len(guesses) == 8 and all(set(g) == set(answer) for g in guesses)


def test_minhash_dedup_flags_near_duplicates_with_the_same_tools_only():
    tools = tool_signature([{"name": "search_hotels", "parameters": {"type": "object"}}])
    other = tool_signature([{"name": "list_pets", "parameters": {"type": "object"}}])
    a = "Which hotel in Lyon rated at least 4.2 has the lowest nightly price? Break ties by the smaller hotel_id."
    b = "Which hotel in Lyon, rated at least 4.2, has the LOWEST nightly price?  Break ties by the smaller hotel_id"
    c = "Plan 3 nights in Nice with a hotel rated at least 3.9 and dinner every night at one restaurant."
    assert normalize_prompt(a) == normalize_prompt(b).rstrip(".") or similarity(minhash(a), minhash(b)) > 0.9
    assert similarity(minhash(a), minhash(c)) < 0.3
    index = DedupIndex(0.9)
    index.add(tools, minhash(a))
    assert index.is_duplicate(tools, minhash(b))
    assert not index.is_duplicate(other, minhash(b))
    assert not index.is_duplicate(tools, minhash(c))
    with pytest.raises(ValueError, match="threshold must be in"):
        DedupIndex(0.0)
