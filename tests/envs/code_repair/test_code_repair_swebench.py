"""SWE-bench-format instances over a local checkout: hidden test patch, gold patch gives 1, untouched repo gives 0."""

from __future__ import annotations

import json

import pytest

from agentgym.api import Action, ToolCall
from agentgym.envs.code_repair import CodeRepairEnv
from agentgym.envs.code_repair.fixture_repo import FILES, write_repo
from agentgym.envs.code_repair.patch import make_diff
from agentgym.envs.code_repair.swebench import load_swebench, read_instances, swebench_task

BROKEN = FILES["minilib/seqs.py"].replace("out.extend(xs)", "out.append(xs)")
NEW_TEST = "from minilib.seqs import flatten\n\n\ndef test_flatten_nested_once():\n    assert flatten([[1, 2], [3]]) == [1, 2, 3]\n"


def instance() -> dict:
    return {
        "instance_id": "minilib__minilib-1", "repo": "minilib/minilib", "base_commit": "abc123",
        "patch": make_diff("minilib/seqs.py", BROKEN, FILES["minilib/seqs.py"]),
        "test_patch": make_diff("tests/test_more.py", "", NEW_TEST).replace("--- a/tests/test_more.py", "--- /dev/null"),
        "problem_statement": "flatten() returns nested lists instead of their items.",
        "FAIL_TO_PASS": json.dumps(["tests/test_more.py::test_flatten_nested_once"]),
        "PASS_TO_PASS": json.dumps(["tests/test_seqs.py::test_dedupe", "tests/test_text.py::test_word_count"]),
    }  # fmt: skip


@pytest.fixture
def checkout(tmp_path):
    repo = write_repo(tmp_path / "checkout")
    (repo / "minilib" / "seqs.py").write_text(BROKEN)
    return repo


async def test_swebench_instance_oracle_and_noop(checkout, tmp_path):
    path = tmp_path / "instances.jsonl"
    path.write_text(json.dumps(instance()) + "\n" + json.dumps({**instance(), "repo": "other/repo"}) + "\n")
    tasks = load_swebench(read_instances(path), {"minilib/minilib": checkout})
    assert [t.id for t in tasks] == ["minilib__minilib-1"] and tasks[0].meta["base_commit"] == "abc123"
    env = CodeRepairEnv()
    try:
        await env.reset(tasks[0], seed=0)
        hidden = await env.step(Action(tool_calls=[ToolCall(id="l", name="list_dir", arguments={"path": "tests"})]))
        assert "test_more.py" not in hidden.observation.messages[0].content  # the evaluation tests stay hidden
        await env.reset(tasks[0], seed=0)
        good = await env.step(env.reference_action(tasks[0]))
        assert good.reward == 1.0, good.verdict
        await env.reset(tasks[0], seed=0)
        noop = await env.step(Action(tool_calls=[ToolCall(id="s", name="submit", arguments={})]))
        assert noop.reward == 0.0
        assert noop.info["grading"]["fail_to_pass_failed"] == ["tests/test_more.py::test_flatten_nested_once"]
    finally:
        await env.close()


def test_malformed_instances_are_refused(checkout):
    with pytest.raises(ValueError, match=r"missing fields \['patch'\]"):
        swebench_task({k: v for k, v in instance().items() if k != "patch"}, checkout)
    with pytest.raises(ValueError, match="FAIL_TO_PASS is empty"):
        swebench_task({**instance(), "FAIL_TO_PASS": "[]"}, checkout)
    with pytest.raises(ValueError, match="does not exist"):
        swebench_task(instance(), checkout / "nope")
