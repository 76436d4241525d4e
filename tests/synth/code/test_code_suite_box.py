"""`SuiteBox`: many runs in one copy of the tree; each run's changes are reverted, and no stale bytecode survives."""

from __future__ import annotations

import os

import pytest

from agentgym.synth.code.suite import Project, SuiteBox
from agentgym.synth.code.venv import prepare_venv

GOOD = "def f():\n    return 1\n"
BAD = "def f():\n    return 2\n"  # same size as GOOD: a pyc keyed on (mtime, size) cannot tell them apart by size


@pytest.mark.slow
def test_changes_are_reverted_and_bytecode_never_goes_stale(tmp_path):
    (tmp_path / "calc.py").write_text(GOOD)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_calc.py").write_text("from calc import f\n\n\ndef test_f():\n    assert f() == 1\n\n\n"
                                                     "def test_other():\n    assert True\n")  # fmt: skip
    # Bytecode writing on (sandboxes turn it off by default): the stale-.pyc trap is live, and must not spring.
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": ""}
    project = Project(name="calc", label="calc", tree=tmp_path, venv=prepare_venv(()), pythonpath=(".",), test_env=env)
    original_mtime = (tmp_path / "calc.py").stat().st_mtime_ns
    with SuiteBox(project, timeout_s=60) as box:
        outcomes = []
        for changed in ({}, {"calc.py": BAD}, {}, {"calc.py": BAD}, {"calc.py": BAD}, {}):  # within a second or two
            run = box.run(changed, timeout_s=60)
            outcomes.append(run.outcomes["tests/test_calc.py::test_f"][0])
            assert run.outcomes["tests/test_calc.py::test_other"][0] == "passed"
        assert outcomes == ["passed", "failed", "passed", "failed", "failed", "passed"]
        assert os.listdir(os.path.join(box.box.workdir, "__pycache__"))  # bytecode was written and reused
        assert box.box.read_file("calc.py").decode() == GOOD
        assert os.stat(os.path.join(box.box.workdir, "calc.py")).st_mtime_ns == original_mtime
        only = box.run({"calc.py": BAD}, timeout_s=60, targets=["tests/test_calc.py::test_f"])
        assert list(only.outcomes) == ["tests/test_calc.py::test_f"]
        assert only.outcomes["tests/test_calc.py::test_f"][0] == "failed"
    assert (tmp_path / "calc.py").read_text() == GOOD  # the cached tree itself is never written
