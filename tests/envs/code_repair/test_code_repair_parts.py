"""Pure parts of code_repair: unified diffs, exact-match edits, JUnit parsing, snapshot hashing and unpacking."""

from __future__ import annotations

import random
import tarfile

import pytest

from agentgym.envs.code_repair.edits import edits_between, replace_exact
from agentgym.junit import node_id, parse_junit
from agentgym.envs.code_repair.patch import PatchError, apply_patch, make_diff, parse_patch, patched_paths
from agentgym.envs.code_repair.snapshot import materialize, tree_sha256
from agentgym.envs.code_repair.taskdata import expand_path, parse_task_data
from agentgym.toolenv import ToolError

GIT_PATCH = """diff --git a/pkg/mod.py b/pkg/mod.py
index 1111111..2222222 100644
--- a/pkg/mod.py
+++ b/pkg/mod.py
@@ -1,3 +1,3 @@
 def f(x):
-    return x + 1
+    return x + 2
 
diff --git a/pkg/new.py b/pkg/new.py
new file mode 100644
--- /dev/null
+++ b/pkg/new.py
@@ -0,0 +1,2 @@
+A = 1
+B = 2
diff --git a/old.txt b/old.txt
deleted file mode 100644
--- a/old.txt
+++ /dev/null
@@ -1 +0,0 @@
-bye
"""


def test_git_patch_applies_changes_creations_and_deletions():
    files = {"pkg/mod.py": "def f(x):\n    return x + 1\n\n", "old.txt": "bye\n"}
    out = apply_patch(files, GIT_PATCH)
    assert out == {"pkg/mod.py": "def f(x):\n    return x + 2\n\n", "pkg/new.py": "A = 1\nB = 2\n", "old.txt": None}
    assert patched_paths(GIT_PATCH) == ["pkg/mod.py", "pkg/new.py", "old.txt"]


def test_random_diffs_round_trip_including_missing_final_newline():
    rng = random.Random(0)
    for _ in range(200):
        lines = [f"line {rng.randint(0, 9)}\n" for _ in range(rng.randint(0, 30))]
        before = "".join(lines) + ("tail" if rng.random() < 0.3 else "")
        after_lines = list(lines)
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(after_lines))
            if after_lines and rng.random() < 0.5:
                del after_lines[min(at, len(after_lines) - 1)]
            else:
                after_lines.insert(at, f"new {rng.random():.3f}\n")
        after = "".join(after_lines) + ("end" if rng.random() < 0.3 else "")
        patch = make_diff("f.py", before, after)
        if before == after:
            assert patch == ""
            continue
        assert apply_patch({"f.py": before}, patch) == {"f.py": after}
        # the reverse direction and the edit form reach the same texts
        assert apply_patch({"f.py": after}, make_diff("f.py", after, before)) == {"f.py": before}
        text = before
        for e in edits_between("f.py", before, after):
            text, _ = replace_exact(text, "f.py", e.old, e.new)
        assert text == after


def test_hunks_apply_at_shifted_lines_and_bad_patches_are_refused():
    patch = make_diff("m.py", "a\nb\nc\n", "a\nB\nc\n")
    assert apply_patch({"m.py": "x\ny\na\nb\nc\n"}, patch) == {"m.py": "x\ny\na\nB\nc\n"}
    with pytest.raises(PatchError, match="does not apply"):
        apply_patch({"m.py": "q\nr\n"}, patch)
    with pytest.raises(PatchError, match="outside the repository"):
        parse_patch("--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n")
    with pytest.raises(PatchError, match="which does not exist"):
        apply_patch({}, patch)
    with pytest.raises(PatchError, match="no file changes"):
        parse_patch("just some text\n")


def test_replace_exact_messages():
    text = "a = 1\nb = 2\na = 1\n"
    with pytest.raises(ToolError, match=r"^`old` occurs 2 times in x.py \(at lines 1, 3\)"):
        replace_exact(text, "x.py", "a = 1", "a = 3")
    with pytest.raises(ToolError, match=r"it matches if leading/trailing whitespace is ignored \(line 2\)"):
        replace_exact(text, "x.py", "  b = 2  ", "b = 3")
    assert replace_exact(text, "x.py", "b = 2", "b = 5") == ("a = 1\nb = 5\na = 1\n", 2)


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="1" time="0.001"/>
<testcase classname="tests.test_a.TestK" name="test_bad[1-x]" file="tests/test_a.py" line="5" time="0.001">
  <failure message="assert 1 == 2">long traceback</failure></testcase>
<testcase classname="tests.test_b.TestInherited" name="test_base" file="tests/base.py" line="3" time="0.0"/>
<testcase classname="tests.test_a" name="test_skip" file="tests/test_a.py" line="9" time="0.0">
  <skipped type="pytest.skip" message="no"/></testcase>
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="1" time="0.001">
  <error message="teardown boom"/></testcase>
<testcase classname="" name="tests.test_c" time="0.0"><error message="collection failure"/></testcase>
</testsuite></testsuites>"""


def test_junit_outcomes_by_node_id():
    files = {"tests/test_a.py", "tests/test_b.py", "tests/base.py"}
    out = parse_junit(JUNIT, files.__contains__)
    assert {k: (v.outcome, v.message) for k, v in out.items()} == {
        "tests/test_a.py::test_ok": ("error", "teardown boom"),
        "tests/test_a.py::TestK::test_bad[1-x]": ("failed", "assert 1 == 2"),
        "tests/test_b.py::TestInherited::test_base": ("passed", ""),
        "tests/test_a.py::test_skip": ("skipped", "no"),
        "tests.test_c": ("error", "collection failure"),
    }
    assert node_id("pkg.tests.test_x.TestA", "t", None) == "pkg/tests/test_x.py::TestA::t"
    with pytest.raises(ValueError, match="not valid JUnit XML"):
        parse_junit("<oops")


def test_snapshot_hash_and_archives_unpack_once(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path / "cache"))
    repo = tmp_path / "proj"
    (repo / "pkg" / "__pycache__").mkdir(parents=True)
    (repo / "pkg" / "m.py").write_text("x = 1\n")
    (repo / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"junk")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    digest = tree_sha256(repo)
    (repo / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"other junk")
    assert tree_sha256(repo) == digest  # caches do not count
    (repo / "run.sh").chmod(0o644)
    assert tree_sha256(repo) != digest  # the executable bit does
    archive = tmp_path / "proj.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(repo, arcname="proj-1.0")
    unpacked = materialize(str(archive))
    assert unpacked.is_relative_to(tmp_path / "cache") and tree_sha256(unpacked) == tree_sha256(repo)
    assert materialize(str(archive)) == unpacked
    assert expand_path("$AGENTGYM_CACHE/x/y") == str(tmp_path / "cache" / "x" / "y")


def test_task_data_errors_name_the_field():
    with pytest.raises(ValueError, match=r"not a code_repair task: .*fail_to_pass"):
        parse_task_data({"repo": "/r", "gold_patch": "", "fail_to_pass": []})
    with pytest.raises(ValueError, match="repo: Field required"):
        parse_task_data({"gold_patch": "", "fail_to_pass": ["t"]})
