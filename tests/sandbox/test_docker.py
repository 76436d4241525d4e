"""DockerSandbox against a fake docker client (security settings, exec protocol) and, when one answers, a real engine."""

from __future__ import annotations

import base64
import builtins
import sys

import pytest

from agentgym.sandbox import DockerSandbox, SandboxConfig, SandboxDependencyMissing, SandboxLimits, make_sandbox
from agentgym.sandbox.config import GIB, MIB
from agentgym.sandbox.docker import EXEC_UID, load_docker


class FakeContainer:
    def __init__(self, settings):
        self.id = "c0ffee"
        self.settings = settings
        self.removed_with = None

    def remove(self, force=False):
        self.removed_with = {"force": force}


class FakeAPI:
    """Plays the exec part of the Docker Engine API; `script` maps a command's argv to (chunks, exit code)."""

    def __init__(self):
        self.execs = {}
        self.files = {}
        self.script = {}

    def exec_create(self, container_id, cmd, **kwargs):
        exec_id = f"exec-{len(self.execs)}"
        self.execs[exec_id] = {"container": container_id, "cmd": cmd, **kwargs}
        return {"Id": exec_id}

    def exec_start(self, exec_id, stream, demux):
        assert stream and demux
        cmd = self.execs[exec_id]["cmd"]
        chunks, code = self._respond(cmd)
        self.execs[exec_id]["exit_code"] = code
        return iter(chunks)

    def exec_inspect(self, exec_id):
        return {"ExitCode": self.execs[exec_id]["exit_code"]}

    def _respond(self, cmd):
        if cmd[:3] == ["kill", "-KILL", "-1"]:
            return [], 0
        if cmd[0] == "timeout":
            argv = cmd[4:]
            if argv[:2] == ["sh", "-c"] and "base64 -d" in argv[2]:  # write_file
                path, chunk = argv[4], argv[5]
                old = self.files.get(path, b"") if ">>" in argv[2] else b""
                self.files[path] = old + base64.b64decode(chunk)
                return [], 0
            return self.script.get(tuple(argv), ([(b"", b"unknown command")], 127))
        if cmd[0] == "cat":
            path = cmd[-1]
            return ([(self.files[path], None)], 0) if path in self.files else ([(None, b"No such file")], 1)
        raise AssertionError(f"unexpected exec {cmd}")


class FakeClient:
    def __init__(self):
        self.api = FakeAPI()
        self.created = []
        outer = self

        class Containers:
            def run(self, **settings):
                container = FakeContainer(settings)
                outer.created.append(container)
                return container

        self.containers = Containers()


LIMITS = SandboxLimits(timeout_s=7, memory_bytes=1 * GIB, max_processes=50, max_open_files=128,
                       max_file_size_bytes=8 * MIB, max_output_bytes=100)  # fmt: skip


def test_container_security_settings():
    client = FakeClient()
    with DockerSandbox(SandboxConfig(limits=LIMITS, env={"K": "V"}), image="img:1", client=client) as box:
        (container,) = client.created
        s = container.settings
        assert s["image"] == "img:1" and s["detach"] is True
        assert s["network_disabled"] is True and s["network_mode"] == "none"
        assert s["mem_limit"] == s["memswap_limit"] == 1 * GIB and s["pids_limit"] == 52
        assert s["read_only"] is True and s["cap_drop"] == ["ALL"] and s["security_opt"] == ["no-new-privileges"]
        assert box.workdir in s["tmpfs"] and "size=" in s["tmpfs"][box.workdir] and s["working_dir"] == box.workdir
        assert {"Name": "nofile", "Soft": 128, "Hard": 128} in s["ulimits"]
        assert {"Name": "fsize", "Soft": 8 * MIB, "Hard": 8 * MIB} in s["ulimits"]
        assert s["environment"]["K"] == "V" and "PATH" in s["environment"]
        assert not any(key.startswith("AGENTGYM") for key in s["environment"])
    assert container.removed_with == {"force": True}
    box.close()  # idempotent


def test_run_streams_output_under_timeout_and_sweeps_afterwards():
    client = FakeClient()
    client.api.script[("/bin/sh", "-c", "echo hi")] = ([(b"x" * 300, None), (None, b"warn"), (b"END", None)], 0)
    with DockerSandbox(SandboxConfig(limits=LIMITS), client=client) as box:
        result = box.run("echo hi")
    assert result.exit_code == 0 and result.stderr == "warn"
    assert (
        result.stdout_truncated and result.stdout.endswith("END") and "[... truncated 203 bytes ...]" in result.stdout
    )
    cmds = [e["cmd"] for e in client.api.execs.values()]
    assert cmds[0] == ["timeout", "-s", "KILL", "7", "/bin/sh", "-c", "echo hi"]
    assert cmds[1] == ["kill", "-KILL", "-1"]  # leftovers swept as the exec uid
    assert all(e["user"] == f"{EXEC_UID}:{EXEC_UID}" for e in client.api.execs.values())


def test_signals_and_memory_are_classified():
    client = FakeClient()
    client.api.script[("python3", "-c", "boom")] = ([(None, b"Traceback...\nMemoryError\n")], 1)
    client.api.script[("/bin/sh", "-c", "kill")] = ([], 137)
    with DockerSandbox(SandboxConfig(limits=LIMITS), client=client) as box:
        memory = box.run_python("boom")
        killed = box.run("kill")
    assert memory.killed_by == "memory" and memory.summary().startswith("MemoryError: memory limit 1 GiB exceeded")
    assert killed.killed_by == "signal 9" and not killed.timed_out


def test_files_round_trip_through_exec():
    client = FakeClient()
    payload = bytes(range(256)) * 1000  # 256 KB: several base64 chunks
    with DockerSandbox(SandboxConfig(limits=SandboxLimits(max_output_bytes=1024)), client=client) as box:
        assert box.write_file("dir/blob.bin", payload) == "/workspace/dir/blob.bin"
        assert box.read_file("dir/blob.bin") == payload
        with pytest.raises(FileNotFoundError):
            box.read_file("missing")
        with pytest.raises(ValueError):
            box.write_file("../etc/passwd", "x")


def test_make_sandbox_docker_with_injected_client():
    client = FakeClient()
    box = make_sandbox("docker", SandboxConfig(network=True), client=client, image="alpine:3")
    assert isinstance(box, DockerSandbox) and client.created[0].settings["network_mode"] == "bridge"
    assert "network_disabled" not in client.created[0].settings
    box.close()


def test_missing_sdk_names_the_pip_command(monkeypatch):
    real_import = builtins.__import__

    def no_docker(name, *args, **kwargs):
        if name == "docker" or name.startswith("docker."):
            raise ImportError("No module named 'docker'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "docker", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_docker)
    with pytest.raises(SandboxDependencyMissing) as info:
        DockerSandbox()
    assert str(info.value).endswith("pip install 'agentgym-rl[docker]'")
    assert isinstance(info.value, ImportError)


def _engine_problem() -> str | None:
    try:
        load_docker().from_env().ping()
    except Exception as e:  # noqa: BLE001 - any failure means "no engine here"
        return f"no Docker engine answers: {type(e).__name__}: {e}"
    return None


@pytest.mark.docker
def test_real_engine_runs_isolated():
    problem = _engine_problem()
    if problem is not None:
        pytest.skip(problem)
    with DockerSandbox(SandboxConfig(limits=SandboxLimits(timeout_s=20)), image="python:3.11-slim") as box:
        box.write_file("a.py", "import socket; print(sorted(n for _, n in socket.if_nameindex()))")
        result = box.run(["python3", "a.py"])
        assert result.ok and result.stdout.strip() == "['lo']"
        assert box.run("touch /etc/x").exit_code != 0
        assert box.run("sleep 30", timeout_s=1).timed_out
