"""The docker backend: one image per repository (built once, reused) and episodes in `DockerSandbox`.

Against a fake docker client that records the build and run calls and plays the container: its files live in a
dict, and the pytest command really runs (on the host, in a temporary copy), so gold and no-op episodes are graded
by the env's own docker code path. The real-engine tests live in `test_code_repair_docker_engine.py`.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agentgym.api import Action, ToolCall
from agentgym.envs.code_repair import CodeRepairEnv, fixture_tasks
from agentgym.envs.code_repair.image import (
    REPO_IN_IMAGE,
    dockerfile,
    image_tag,
    venv_python_version,
    venv_requirements,
)
from agentgym.sandbox.docker import EXEC_UID
from agentgym.sandbox.docker_image import BASE_IMAGE, PYTHON_LABEL

WORKDIR = "/workspace"


class ImageNotFound(Exception):
    """Named like docker.errors.ImageNotFound, which is how the env recognizes it."""


class FakeBaseImage:
    id = "sha256:base"
    labels = {PYTHON_LABEL: f"{sys.version_info.major}.{sys.version_info.minor}"}


class FakeImages:
    def __init__(self) -> None:
        self.built: dict[str, dict] = {BASE_IMAGE: FakeBaseImage()}
        self.build_calls: list[dict] = []
        self.get_calls: list[str] = []

    def get(self, tag):
        self.get_calls.append(tag)
        if tag not in self.built:
            raise ImageNotFound(tag)
        return self.built[tag]

    def build(self, *, path, tag, **kwargs):
        root = Path(path)
        files = (p for p in (root / "repo").rglob("*") if p.is_file())
        repo = {p.relative_to(root / "repo").as_posix(): p.read_bytes() for p in files}
        record = {"tag": tag, "kwargs": kwargs, "dockerfile": (root / "Dockerfile").read_text(),
                  "requirements": (root / "requirements.txt").read_text().split(), "repo": repo}  # fmt: skip
        self.build_calls.append(record)
        self.built[tag] = record
        return object(), iter([])


class FakeContainer:
    def __init__(self, settings, repo):
        self.id = f"c{id(self):x}"
        self.settings = settings
        self.repo = repo
        self.files: dict[str, bytes] = {}
        self.removed = False

    def start(self):
        pass

    def remove(self, force=False):
        self.removed = force


class FakeAPI:
    """The exec part of the Engine API, played on the container's file dict."""

    def __init__(self, client):
        self.client = client
        self.execs: dict[str, dict] = {}

    def exec_create(self, container_id, cmd, **kwargs):
        exec_id = f"exec-{len(self.execs)}"
        self.execs[exec_id] = {"container": container_id, "cmd": list(cmd), **kwargs}
        return {"Id": exec_id}

    def exec_start(self, exec_id, stream, demux):
        record = self.execs[exec_id]
        container = self.client.by_id[record["container"]]
        out, err, code = self._respond(container, record["cmd"], record.get("environment") or {})
        record["exit_code"] = code
        return iter([(out or None, err or None)])

    def exec_inspect(self, exec_id):
        return {"ExitCode": self.execs[exec_id]["exit_code"]}

    def _respond(self, c: FakeContainer, cmd: list[str], env: dict) -> tuple[bytes, bytes, int]:
        if cmd == ["kill", "-KILL", "-1"]:
            return b"", b"", 0
        if cmd[:2] == ["cat", "--"]:
            return (c.files[cmd[2]], b"", 0) if cmd[2] in c.files else (b"", b"No such file", 1)
        assert cmd[:3] == ["timeout", "-s", "KILL"], cmd
        argv = cmd[4:]
        if argv == ["cp", "-R", f"{REPO_IN_IMAGE}/.", "."]:
            c.files.update({f"{WORKDIR}/{rel}": data for rel, data in c.repo.items()})
            return b"", b"", 0
        if argv[:2] == ["sh", "-c"] and "base64 -d" in argv[2]:
            path, chunk = argv[4], argv[5]
            c.files[path] = (c.files.get(path, b"") if ">>" in argv[2] else b"") + base64.b64decode(chunk)
            return b"", b"", 0
        if argv[:3] == ["rm", "-f", "--"] or argv[:2] == ["rm", "-f"]:
            for rel in argv[3:] if argv[2] == "--" else argv[2:]:
                c.files.pop(f"{WORKDIR}/{rel}" if not rel.startswith("/") else rel, None)
            return b"", b"", 0
        if argv[:2] == ["/bin/sh", "-c"] and argv[2].startswith("find . "):
            names = re.findall(r"-name '?([\w.]+)'?", argv[2])
            found = [p.replace(WORKDIR, ".", 1) for p in c.files if p.rsplit("/", 1)[-1] in names]
            return "\n".join(found).encode(), b"", 0
        if argv[:3] == ["python", "-m", "pytest"]:
            return self._pytest(c, argv, env)
        raise AssertionError(f"unexpected command {argv}")

    def _pytest(self, c: FakeContainer, argv: list[str], env: dict) -> tuple[bytes, bytes, int]:
        """Run the command for real on a temporary copy of the container's files, then copy the results back."""
        with tempfile.TemporaryDirectory() as tmp:
            for path, data in c.files.items():
                target = Path(tmp) / path[len(WORKDIR) + 1 :]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            run_env = {**os.environ, **{k: v.replace(WORKDIR, tmp) for k, v in env.items()}}
            proc = subprocess.run([sys.executable, *argv[1:]], cwd=tmp, env=run_env, capture_output=True, check=False)
            for p in Path(tmp).rglob("*.xml"):
                c.files[f"{WORKDIR}/{p.relative_to(tmp).as_posix()}"] = p.read_bytes()
        return proc.stdout, proc.stderr, proc.returncode


class FakeDocker:
    def __init__(self) -> None:
        self.images = FakeImages()
        self.api = FakeAPI(self)
        self.by_id: dict[str, FakeContainer] = {}
        self.run_calls: list[dict] = []
        outer = self

        class Containers:
            def create(self, **settings):
                outer.run_calls.append(settings)
                container = FakeContainer(settings, outer.images.built[settings["image"]]["repo"])
                outer.by_id[container.id] = container
                return container

        self.containers = Containers()


def call(name: str, **arguments) -> ToolCall:
    return ToolCall(id=name, name=name, arguments=arguments)


async def test_per_repo_image_is_built_once_and_episodes_are_graded_in_it():
    fake = FakeDocker()
    tasks = fixture_tasks(2, seed=0)
    env = CodeRepairEnv(backend="docker", docker_client=fake, bash_timeout_s=20)
    try:
        await env.reset(tasks[0], seed=0)
        gold = await env.step(env.reference_action(tasks[0]))
        await env.reset(tasks[0], seed=0)
        noop = await env.step(Action(tool_calls=[call("submit")]))
        await env.reset(tasks[1], seed=0)  # same repository: same image
        wrong = await env.step(Action(tool_calls=[call("edit_file", path="README.md", old="# minilib", new="# x"),
                                                  call("submit")]))  # fmt: skip
    finally:
        await env.close()
    assert (gold.reward, noop.reward, wrong.reward) == (1.0, 0.0, 0.0)
    assert noop.info["grading"]["fail_to_pass_failed"] == tasks[0].data["fail_to_pass"]

    (build,) = fake.images.build_calls  # one image for the repository, reused by the later episodes
    tag = build["tag"]
    assert re.fullmatch(r"agentgym-code-repair/minilib-[0-9a-f]+:[0-9a-f]{16}", tag)
    assert build["kwargs"]["labels"]["agentgym.code_repair.repo_sha256"] == tasks[0].data["repo_sha256"]
    assert build["dockerfile"] == dockerfile(BASE_IMAGE, FakeBaseImage.labels[PYTHON_LABEL], has_venv=False)
    assert build["dockerfile"] == f"FROM {BASE_IMAGE}\nCOPY repo/ /repo/\n"  # no RUN: the build starts no container
    assert build["kwargs"]["network_mode"] == "none" and build["requirements"] == []  # the base image's pytest
    assert "minilib/seqs.py" in build["repo"] and "tests/test_seqs.py" in build["repo"]
    assert fake.images.get_calls == [BASE_IMAGE, BASE_IMAGE, tag]  # looked up once, then remembered by the env

    assert len(fake.run_calls) == 3 and all(s["image"] == tag for s in fake.run_calls)
    for s in fake.run_calls:  # the security settings of every episode's container
        assert s["network_disabled"] is True and s["network_mode"] == "none"
        assert s["read_only"] is True and s["cap_drop"] == ["ALL"] and s["security_opt"] == ["no-new-privileges"]
        assert s["user"] == "65534:65534" and s["pids_limit"] == 130 and s["mem_limit"] == s["memswap_limit"]
        assert s["volumes"] == {}  # nothing of the host is mounted: the image is the test env
        assert WORKDIR in s["tmpfs"] and s["working_dir"] == WORKDIR
    assert all(c.removed for c in fake.by_id.values())
    execs = list(fake.api.execs.values())
    assert all(e["user"] == f"{EXEC_UID}:{EXEC_UID}" for e in execs)
    pytest_runs = [e["cmd"] for e in execs if e["cmd"][4:7] == ["python", "-m", "pytest"]]
    assert len(pytest_runs) == 3 and all("-p" in cmd and "no:cacheprovider" in cmd for cmd in pytest_runs)


def test_requirements_and_tag_come_from_the_prepared_venv(tmp_path):
    venv = tmp_path / "venv"
    site = venv / "lib" / "python3.12" / "site-packages"
    for name in ("pytest-8.4.2", "pluggy-1.6.0", "pip-25.1", "setuptools-80.0.0", "iniconfig-2.1.0", "Foo_Bar-1.0"):
        (site / f"{name}.dist-info").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.12.4\n")
    reqs = venv_requirements(venv)
    assert reqs == ["foo-bar==1.0", "iniconfig==2.1.0", "pluggy==1.6.0", "pytest==8.4.2"]
    assert venv_python_version(venv) == "3.12"
    text = dockerfile(BASE_IMAGE, "3.12", has_venv=True)
    copy_venv = "COPY site-packages/ /usr/local/lib/python3.12/dist-packages/"
    assert text == f"FROM {BASE_IMAGE}\n{copy_venv}\nCOPY repo/ /repo/\n"
    a = image_tag("isodate-0.7.2", text, reqs, "ab" * 32)
    assert a == image_tag("isodate-0.7.2", text, reqs, "ab" * 32)
    assert a.startswith("agentgym-code-repair/isodate-0.7.2:")
    assert a != image_tag("isodate-0.7.2", text, reqs, "cd" * 32)
    assert a != image_tag("isodate-0.7.2", text, reqs[:-1] + ["pytest==8.4.3"], "ab" * 32)
    (site / "pytest-8.4.2.dist-info").rmdir()
    with pytest.raises(ValueError, match="has no pytest"):
        venv_requirements(venv)
