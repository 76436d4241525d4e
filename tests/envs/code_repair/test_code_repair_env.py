"""code_repair env over the bundled minilib repository: oracle, no-op, tools, tamper resistance, containment."""

from __future__ import annotations

import pytest

from agentgym.api import Action, ToolCall
from agentgym.checker import check_env
from agentgym.envs.code_repair import CodeRepairEnv, fixture_tasks
from agentgym.envs.code_repair.fixture import BUGS, all_test_ids


def call(name: str, **arguments) -> ToolCall:
    return ToolCall(id=name, name=name, arguments=arguments)


async def play(env: CodeRepairEnv, task, *calls: ToolCall):
    await env.reset(task, seed=0)
    return await env.step(Action(tool_calls=list(calls)))


@pytest.fixture
async def env():
    e = CodeRepairEnv(bash_timeout_s=5)
    yield e
    await e.close()


@pytest.mark.slow
async def test_oracle_gets_one_and_noop_gets_zero_on_every_bug(env):
    tasks = fixture_tasks(len(BUGS), seed=0)
    assert sorted(t.meta["bug"] for t in tasks) == sorted(b.key for b in BUGS)
    for task in tasks:
        good = await play(env, task, *env.reference_action(task).tool_calls)
        assert good.reward == 1.0 and good.verdict.passed, (task.id, good.verdict)
        assert good.info["grading"]["fail_to_pass_failed"] == []
        noop = await play(env, task, call("submit"))
        assert noop.reward == 0.0 and not noop.verdict.passed
        # the no-op run fails exactly the task's FAIL_TO_PASS tests: the hand-written lists are right
        assert noop.info["grading"]["fail_to_pass_failed"] == task.data["fail_to_pass"]
        assert noop.info["grading"]["pass_to_pass_failed"] == []


def test_sample_tasks_are_deterministic_and_complete():
    a, b = fixture_tasks(5, seed=3), fixture_tasks(5, seed=3)
    assert [t.model_dump() for t in a] == [t.model_dump() for t in b]
    assert [t.id for t in fixture_tasks(5, seed=4)] != [t.id for t in a]
    for t in a:
        assert sorted(t.data["fail_to_pass"] + t.data["pass_to_pass"]) == sorted(all_test_ids())
    assert len({t.id for t in fixture_tasks(10, seed=0)}) == 10


async def test_reset_hides_the_patches_and_test_lists(env):
    task = fixture_tasks(1, seed=0)[0]
    obs = await env.reset(task, seed=0)
    shown = obs.text
    assert task.data["gold_patch"] not in shown and "@@" not in shown
    assert not any(t in shown for t in task.data["fail_to_pass"])


async def test_editing_the_wrong_file_gets_zero(env):
    task = fixture_tasks(1, seed=0)[0]
    result = await play(env, task, call("edit_file", path="README.md", old="# minilib", new="# minilib (fixed)"),
                        call("submit"))  # fmt: skip
    assert result.reward == 0.0
    assert result.verdict.reasons[0].startswith("FAIL_TO_PASS: 0/")


async def test_changing_the_tests_or_adding_a_conftest_does_not_count(env):
    task = next(t for t in fixture_tasks(8, seed=0) if t.meta["bug"] == "flatten-extend")
    cheat = "import pytest\n\ndef pytest_collection_modifyitems(items):\n    for i in items:\n" \
            "        i.add_marker(pytest.mark.skip)\n"  # fmt: skip
    result = await play(
        env, task,
        call("edit_file", path="tests/test_seqs.py", old="assert flatten([[1], [], [2, 3]]) == [1, 2, 3]", new="pass"),
        call("edit_file", path="tests/conftest.py", old="", new=cheat),
        call("submit"),
    )  # fmt: skip
    assert result.reward == 0.0
    assert result.info["grading"]["restored"] == ["tests/conftest.py", "tests/test_seqs.py"]
    assert any(r.startswith("reset before grading") for r in result.verdict.reasons)


async def test_edit_file_errors_name_counts_and_nearest_match(env):
    task = fixture_tasks(1, seed=0)[0]
    result = await play(
        env, task,
        call("edit_file", path="minilib/seqs.py", old="return out", new="return []"),
        call("edit_file", path="minilib/seqs.py", old="def dedupe(xs):\n    \"\"\"Items in first seen order.", new="x"),
        call("edit_file", path="minilib/nope.py", old="a", new="b"),
        call("edit_file", path="../../etc/passwd", old="root", new="x"),
        call("edit_file", path="minilib/seqs.py", old="", new="x"),
    )  # fmt: skip
    texts = [m.content for m in result.observation.messages]
    assert texts[0] == ("error: `old` occurs 2 times in minilib/seqs.py (at lines 16, 27); "
                        "include more surrounding lines so that it matches exactly once")  # fmt: skip
    assert texts[1].startswith("error: `old` was not found in minilib/seqs.py (0 matches;")
    assert "nearest match" in texts[1] and "starts at line 19" in texts[1] and "def dedupe(xs):" in texts[1]
    assert texts[2] == "error: no such file: 'minilib/nope.py' (paths are relative to the repository root)"
    assert texts[3].startswith("error: ") and "outside the sandbox" in texts[3]
    assert texts[4].startswith("error: `old` is empty")
    assert result.error == "model_error" and not result.terminated


async def test_read_list_bash_and_run_tests(env):
    task = next(t for t in fixture_tasks(8, seed=0) if t.meta["bug"] == "window-last")
    result = await play(
        env, task,
        call("read_file", path="minilib/seqs.py", start=30, end=34),
        call("list_dir", path="minilib"),
        call("bash", cmd="grep -n 'range(len' minilib/seqs.py"),
        call("run_tests", ids=["tests/test_seqs.py"]),
        call("read_file", path="minilib", start=1),
    )  # fmt: skip
    read, listing, bash, tests, bad = (m.content for m in result.observation.messages)
    assert read.splitlines()[0] == "minilib/seqs.py (lines 30-34 of 34)"
    assert read.splitlines()[-1] == "34 |     return [tuple(xs[i : i + n]) for i in range(len(xs) - n)]"
    assert listing.splitlines()[1:] == ["__init__.py", "numbers.py", "seqs.py", "text.py"]
    assert "range(len(xs) - n)]" in bash and bash.startswith("exited with code 0")
    assert tests.splitlines()[0] == "1 failed, 5 passed"  # no duration: reproducible
    assert tests.splitlines()[1].startswith("FAILED tests/test_seqs.py::test_window: assert")
    assert bad == "error: 'minilib' is a directory; use list_dir"


@pytest.mark.slow
async def test_destructive_commands_are_contained_and_the_next_episode_is_clean(env):
    task = fixture_tasks(1, seed=0)[0]
    result = await play(
        env, task,
        call("bash", cmd="rm -rf ./* ; ls | wc -l"),
        call("bash", cmd="sleep 30"),
        call("bash", cmd="f() { f | f & }; f"),
        call("bash", cmd="echo alive"),
    )  # fmt: skip
    rm, hang, fork, alive = (m.content for m in result.observation.messages)
    assert rm.splitlines()[1] == "0"
    assert hang.startswith("error: killed after") and "timeout" in hang and result.error == "model_error"
    assert "alive" in alive
    again = await play(env, task, *env.reference_action(task).tool_calls)
    assert again.reward == 1.0


@pytest.mark.slow
def test_contract_checker_passes():
    results = check_env(lambda: CodeRepairEnv(tasks="fixture"))  # the default set: test_code_repair_builtin.py
    assert [r.name for r in results if not r.passed] == []
    assert "reference solution passes 4 tasks" in [r.detail for r in results]


def test_constructor_validates_its_arguments():
    with pytest.raises(ValueError, match="backend must be one of"):
        CodeRepairEnv(backend="vm")
    with pytest.raises(ValueError, match="bash_timeout_s"):
        CodeRepairEnv(bash_timeout_s=0)


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("bash", {"cmd": "echo a\x00b"}, "error: cmd contains a NUL character (\\x00), which no command line can carry; "
                                         "remove it"),
        ("list_dir", {"path": "src\x00"}, "error: path contains a NUL character (\\x00), which no command line can "
                                          "carry; remove it"),
        ("run_tests", {"ids": ["tests\x00"]}, "error: ids contains a NUL character (\\x00), which no command line can "
                                              "carry; remove it"),
        ("bash", {"cmd": "x" * 200_000}, "error: cmd is too long (200000 bytes; the limit is 100000); put long content "
                                         "in a file with edit_file and run that instead"),
        ("run_tests", {"ids": ["t" * 150_000]}, "error: ids is too long (150000 bytes; the limit is 100000); put long "
                                                "content in a file with edit_file and run that instead"),
    ],
)
async def test_text_no_command_line_can_carry_is_a_model_error(env, name, arguments, message):
    result = await play(env, fixture_tasks(1, seed=0)[0], call(name, **arguments))
    assert [m.content for m in result.observation.messages] == [message]
    assert result.error == "model_error"
