"""Issue 8's done criterion as a test: >= 100 validated tasks from 3 real PyPI projects, 20 of them checked in the env.

The sdists and the shared test venv are cached under ``$AGENTGYM_CACHE`` (CI caches that folder); everything after
the download runs offline. The three projects have the fastest suites in `reference/code_projects.md` whose tests all
pass with nothing but pytest. Budget: under 4 minutes on 2 cores, cold cache included (see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from agentgym.api import Action, Task, ToolCall
from agentgym.envs.code_repair import CodeRepairEnv
from agentgym.envs.code_repair.snapshot import materialize
from agentgym.envs.code_repair.taskdata import expand_path
from agentgym.rollout import ScriptedPolicy, run_episode
from agentgym.synth.code.issue import reveals_patch
from agentgym.synth.code.pipeline import SynthConfig, is_source_file, prepare_project, synthesize
from agentgym.synth.code.projects import resolve_project
from agentgym.taskio import load_tasks

QUOTAS = {"uritemplate": 34, "hyperframe": 33, "inflection": 33}
NUM_SAMPLED = 20
NUM_WRONG_FILE = 6


def gold_policy(env: CodeRepairEnv, task: Task) -> ScriptedPolicy:
    """Reads the buggy file, then applies the gold patch one `edit_file` call per turn, then submits."""
    look = ToolCall(id="look", name="read_file", arguments={"path": task.meta["file"], "start": 1, "end": 40})
    edits = [Action(tool_calls=[c]) for c in env.reference_action(task).tool_calls]
    return ScriptedPolicy([Action(tool_calls=[look]), *edits])


def other_source_line(task: Task) -> tuple[str, str] | None:
    """(path, a `def` line that occurs once in it) in a source file other than the buggy one; None if there is none."""
    repo = materialize(expand_path(task.data["repo"]))
    for path in sorted(repo.rglob("*.py")):
        rel = path.relative_to(repo).as_posix()
        if is_source_file(rel) and rel != task.meta["file"]:
            text = path.read_text()
            unique = [ln for ln in text.splitlines() if ln.lstrip().startswith("def ") and ln.endswith(":")
                      and text.count(ln) == 1]  # fmt: skip
            if unique:
                return rel, unique[0]
    return None


def wrong_file_policy(path: str, line: str) -> ScriptedPolicy:
    """Makes a real, compiling edit to a source file other than the buggy one, then submits."""
    edit = ToolCall(id="e", name="edit_file", arguments={"path": path, "old": line, "new": line + "  # checked"})
    submit = ToolCall(id="s", name="submit", arguments={})
    return ScriptedPolicy([Action(tool_calls=[edit]), Action(tool_calls=[submit])])


async def play_all(tasks: list[Task], wrong_edits: dict[str, tuple[str, str]]
                   ) -> list[tuple[float, float, float | None]]:  # fmt: skip
    """(gold policy reward, submit-at-once reward, wrong-file reward or None) per task, two envs at a time."""
    submit_now = ScriptedPolicy([Action(tool_calls=[ToolCall(id="s", name="submit", arguments={})])])

    async def lane(part: list[tuple[int, Task]]) -> list[tuple[int, tuple[float, float, float | None]]]:
        env = CodeRepairEnv(verify_hash=True)
        out = []
        try:
            for i, task in part:
                gold = await run_episode(env, gold_policy(env, task), task, seed=0)
                noop = await run_episode(env, submit_now, task, seed=0)
                assert gold.error is None and noop.error == "model_error", (task.id, gold.info, noop.info)
                assert gold.num_tool_errors == 0 and gold.terminated, task.id
                wrong = None
                if task.id in wrong_edits:
                    played = await run_episode(env, wrong_file_policy(*wrong_edits[task.id]), task, seed=0)
                    assert played.num_tool_errors == 0 and played.terminated, task.id
                    wrong = played.reward
                out.append((i, (gold.reward, noop.reward, wrong)))
        finally:
            await env.close()
        return out

    indexed = list(enumerate(tasks))
    halves = await asyncio.gather(lane(indexed[0::2]), lane(indexed[1::2]))
    return [r for _, r in sorted(x for half in halves for x in half)]


@pytest.mark.slow
def test_a_hundred_validated_tasks_from_three_pypi_projects(tmp_path):
    specs = [resolve_project(name) for name in QUOTAS]
    with ThreadPoolExecutor(len(specs)) as pool:  # the downloads overlap; each is cached after the first run
        projects = list(pool.map(prepare_project, specs))
    out = tmp_path / "code.jsonl"
    funnels = [synthesize(SynthConfig(project=spec, out=out, n=QUOTAS[spec.name], seed=0, num_workers=2,
                                      min_timeout_s=10.0)) for spec in specs]  # fmt: skip
    for funnel, project in zip(funnels, projects, strict=True):
        assert funnel.pass_rate >= 0.8 and funnel.kept == QUOTAS[project.name], funnel.summary()
        assert funnel.candidates >= funnel.compiled >= funnel.failing >= funnel.validated >= funnel.kept
    tasks = load_tasks(out)
    assert len(tasks) == sum(QUOTAS.values()) >= 100
    assert {t.meta["project"] for t in tasks} == {s.label for s in specs}
    assert {t.meta["source"] for t in tasks} == {"pypi-sdist"}
    assert {t.meta["sdist"].split("-")[0] for t in tasks} == set(QUOTAS)
    assert len({t.meta["patch_sha256"] for t in tasks}) == len(tasks)
    for t in tasks:
        assert t.data["fail_to_pass"] and not set(t.data["fail_to_pass"]) & set(t.data["pass_to_pass"])
        assert t.data["repo"].startswith("$AGENTGYM_CACHE/code/projects/") or t.data["repo"].startswith("/")
        assert not reveals_patch(t.prompt, t.data["bug_patch"])

    assert all(t.data["venv"].startswith("$AGENTGYM_CACHE/code/venvs/") for t in tasks)

    sample = random.Random(0).sample(tasks, NUM_SAMPLED)
    wrong_edits: dict[str, tuple[str, str]] = {}
    for task in sample:  # the first sampled tasks whose repository has a second source file
        found = other_source_line(task) if len(wrong_edits) < NUM_WRONG_FILE else None
        if found is not None:
            wrong_edits[task.id] = found
    assert len(wrong_edits) == NUM_WRONG_FILE
    results = asyncio.run(play_all(sample, wrong_edits))
    assert [(g, n) for g, n, _ in results] == [(1.0, 0.0)] * NUM_SAMPLED, [t.id for t in sample]
    assert [w for _, _, w in results if w is not None] == [0.0] * NUM_WRONG_FILE
