"""The code-task pipeline end to end on a local project, checked through the env (PyPI projects: the done-criterion test)."""

from __future__ import annotations

import asyncio
import json

import pytest

from agentgym.api import Action, ToolCall
from agentgym.envs.code_repair import CodeRepairEnv
from agentgym.envs.code_repair.fixture_repo import write_repo
from agentgym.app.synth_cli import synth_code_command as synth_code
from agentgym.synth.code.issue import reveals_patch, template_issue
from agentgym.synth.code.pipeline import SynthConfig, synthesize
from agentgym.synth.code.projects import DEFAULT_PROJECTS, ProjectSpec, resolve_project
from agentgym.taskio import load_tasks


async def oracle_and_noop(tasks) -> list[tuple[float, float]]:
    env = CodeRepairEnv(verify_hash=True)
    out = []
    try:
        for task in tasks:
            await env.reset(task, seed=0)
            good = await env.step(env.reference_action(task))
            await env.reset(task, seed=0)
            noop = await env.step(Action(tool_calls=[ToolCall(id="s", name="submit", arguments={})]))
            out.append((good.reward, noop.reward))
    finally:
        await env.close()
    return out


@pytest.mark.slow
def test_pipeline_on_a_local_project_is_valid_and_resumable(tmp_path):
    repo = write_repo(tmp_path / "minilib")
    out = tmp_path / "tasks.jsonl"
    funnel = synth_code(str(repo), n=4, out=out, seed=1, num_workers=2, show_progress=False)
    assert funnel.kept == 4 and funnel.num_tests == 36 and funnel.pass_rate == 1.0
    assert funnel.candidates >= funnel.compiled >= funnel.failing >= funnel.validated >= funnel.kept
    tasks = load_tasks(out)
    assert len(tasks) == 4 and len({t.meta["patch_sha256"] for t in tasks}) == 4
    for t in tasks:
        assert t.env == "code_repair" and t.data["fail_to_pass"]
        assert not set(t.data["fail_to_pass"]) & set(t.data["pass_to_pass"])
        assert not reveals_patch(t.prompt, t.data["bug_patch"])
        assert t.meta["project"] == "minilib" and t.meta["source"] == "local" and len(t.meta["source_sha256"]) == 64
        assert t.data["repo"].startswith("$AGENTGYM_CACHE/") or t.data["repo"].startswith("/")
    assert asyncio.run(oracle_and_noop(tasks)) == [(1.0, 0.0)] * 4

    # Resume: the same request does nothing new; a larger one continues after the recorded candidates.
    decided = len(out.with_name(out.name + ".state.jsonl").read_text().splitlines())
    again = synthesize(SynthConfig(project=resolve_project(str(repo)), out=out, n=4, seed=1, num_workers=2))
    assert again.kept == 0 and again.candidates == 0 and again.resumed == decided
    with open(out, "a") as f:
        f.write('{"id": "torn')  # an interrupted write
    more = synthesize(SynthConfig(project=resolve_project(str(repo)), out=out, n=5, seed=1, num_workers=2))
    assert more.kept == 1 and more.resumed == decided
    lines = out.read_text().splitlines()
    assert len(lines) == 5 and all(json.loads(line)["id"] for line in lines)


def test_issue_text_lists_failures_and_never_quotes_the_patch():
    patch = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-    return a + b\n+    return a - b\n"
    text = template_issue("calc", {"tests/t.py::test_add": "assert -1 == 3", "tests/t.py::test_x": "return a - b"},
                          patch)  # fmt: skip
    assert text.startswith("calc: 2 tests started failing (`test_add`, `test_x`)")
    assert "- `tests/t.py::test_add`: assert -1 == 3" in text
    assert "- `tests/t.py::test_x`\n" in text and not reveals_patch(text, patch)


def test_config_and_project_errors_name_the_field():
    spec = DEFAULT_PROJECTS[0]
    with pytest.raises(ValueError, match="^n must be a positive integer"):
        SynthConfig(project=spec, out="x.jsonl", n=0)
    with pytest.raises(ValueError, match="^min_pass_rate must be in"):
        SynthConfig(project=spec, out="x.jsonl", min_pass_rate=1.5)
    with pytest.raises(ValueError, match="^recheck_scope must be one of"):
        SynthConfig(project=spec, out="x.jsonl", recheck_scope="none")
    with pytest.raises(ValueError, match="^min_timeout_s must be a positive number"):
        SynthConfig(project=spec, out="x.jsonl", min_timeout_s=0)
    with pytest.raises(ValueError, match="^operators must be a non-empty subset"):
        SynthConfig(project=spec, out="x.jsonl", operators=("nope",))
    with pytest.raises(ValueError, match="^version must be pinned"):
        ProjectSpec(name="requests")
    with pytest.raises(ValueError, match=r"not in the default list .*pin a version: requests==X.Y"):
        resolve_project("requests")
    assert resolve_project("toolz").label == "toolz==1.2.0"
    assert resolve_project("attrs==26.1.0").version == "26.1.0"
    assert len(DEFAULT_PROJECTS) >= 5 and all(p.version for p in DEFAULT_PROJECTS)


def test_ledger_resumes_from_its_store_and_rewrites_a_torn_task_file(tmp_path):
    from agentgym.api import Task
    from agentgym.synth.code.ledger import TaskLedger

    out = tmp_path / "tasks.jsonl"
    ledger = TaskLedger(out)
    task = Task(id="minilib-1", env="code_repair", prompt="fix it", meta={"project": "minilib", "patch_sha256": "ab"})
    ledger.add_state("m0", "flaky")
    ledger.keep("m1", task)
    assert load_tasks(out) == [task]
    with open(out, "a") as f:
        f.write('{"id": "torn')  # an interrupted write
    again = TaskLedger(out)
    assert again.is_decided("m0") and again.is_decided("m1") and not again.is_decided("m2")
    assert again.num_kept("minilib") == 1 and again.patch_hashes == {"ab"} and load_tasks(out) == [task]
