"""Every procedural category generator: seeded determinism, escalation that only adds tools, sandbox consistency.

Parametrized over all categories the procedural generator knows, so a new category is covered without a new file.
"""

from __future__ import annotations

import importlib

import pytest

from agentgym.synth.general.procedural import ProceduralGenerator
from agentgym.synth.general.solution_ast import check_tools_only

CATEGORIES = list(ProceduralGenerator().categories())


@pytest.fixture(params=CATEGORIES)
def generator(request):
    return importlib.import_module(f"agentgym.synth.general.categories.{request.param}")


def test_there_are_at_least_five_categories():
    assert len(CATEGORIES) >= 5


def test_same_seed_gives_the_same_drafts_and_another_seed_does_not(generator):
    for level in range(generator.MAX_LEVEL + 1):
        assert generator.task(7, level) == generator.task(7, level)
        assert generator.environment(7, level) == generator.environment(7, level)
    assert generator.environment(7, 0).sql != generator.environment(8, 0).sql
    assert generator.task(7, 0).prompt != generator.task(8, 0).prompt or generator.task(7, 0).verifier != \
        generator.task(8, 0).verifier


def test_escalation_keeps_the_data_and_only_adds_tools(generator):
    envs = [generator.environment(3, level) for level in range(generator.MAX_LEVEL + 1)]
    assert all(e.sql == envs[0].sql for e in envs)
    names = [set(e.tool_names()) for e in envs]
    assert all(a <= b for a, b in zip(names, names[1:])) and len(names[-1]) > len(names[0])
    levels = [generator.task(3, level).level for level in range(generator.MAX_LEVEL + 1)]
    assert levels == list(range(generator.MAX_LEVEL + 1))


def test_reference_solutions_only_call_tools(generator):
    env = generator.environment(5, generator.MAX_LEVEL)
    for level in range(generator.MAX_LEVEL + 1):
        assert check_tools_only(generator.task(5, level).solution, env.tool_names()) == []


def test_every_level_is_consistent_in_the_sandbox_and_needs_more_calls(generator, run_chain):
    chains = [run_chain(generator, seed) for seed in (0, 1, 2)]
    for chain in chains:
        assert all(accepted for accepted, _, _ in chain), chain
    mean_calls = [sum(chain[level][1] for chain in chains) / len(chains) for level in range(len(chains[0]))]
    assert mean_calls[-1] > mean_calls[0], mean_calls
