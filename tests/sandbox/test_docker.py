"""DockerSandbox against a fake docker client (security settings, exec protocol) and, when one answers, a real engine."""

from __future__ import annotations

import base64
import builtins
import io
import sys
import tarfile

import pytest
from docker_support import containers_left, docker_base_image, docker_client  # noqa: F401 - fixtures

from agentgym.sandbox import DockerSandbox, SandboxConfig, SandboxDependencyMissing, SandboxLimits, make_sandbox
from agentgym.sandbox.config import GIB, MIB
from agentgym.sandbox.docker import EXEC_UID


class FakeContainer:
    def __init__(self, settings):
        self.id = "c0ffee"
        self.settings = settings
        self.removed_with = None

    def start(self):
        self.started = True

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
            def create(self, **settings):
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


@pytest.mark.docker
def test_real_engine_runs_isolated(docker_client, docker_base_image):
    with DockerSandbox(SandboxConfig(limits=SandboxLimits(timeout_s=20)), image=docker_base_image,
                       client=docker_client) as box:  # fmt: skip
        box.write_file("a.py", "import socket; print(sorted(n for _, n in socket.if_nameindex()))")
        result = box.run(["python3", "a.py"])
        assert result.ok and result.stdout.strip() == "['lo']"
        assert box.run("touch /etc/x").exit_code != 0
        assert box.run("sleep 30", timeout_s=1).timed_out
        container_id = box._container.id
    assert containers_left(docker_client, container_id) == []


@pytest.mark.docker
def test_real_engine_files_limits_and_identity(docker_client, docker_base_image):
    limits = SandboxLimits(timeout_s=20, max_file_size_bytes=1 * MIB, max_output_bytes=1024)
    with DockerSandbox(SandboxConfig(limits=limits, env={"K": "V"}), image=docker_base_image,
                       client=docker_client) as box:  # fmt: skip
        payload = bytes(range(256)) * 1000  # several base64 chunks
        box.write_file("dir/blob.bin", payload)
        assert box.read_file("dir/blob.bin") == payload
        assert box.read_file("dir/blob.bin", max_bytes=3) == b"\x00\x01\x02"
        assert box.run("id -u; echo $K; pwd; python --version").stdout.split()[:4] == [str(EXEC_UID), "V", "/workspace",
                                                                                      "Python"]  # fmt: skip
        big = box.run("head -c 2000000 /dev/zero > big.bin")
        assert big.killed_by == "file size" and big.reason == "file-size limit 1 MiB", big
        assert box.run("python3 -c 'import pytest; print(pytest.__version__)'").ok
        with pytest.raises(FileNotFoundError):
            box.read_file("missing")


def test_base_image_is_imported_once_per_recipe(tmp_path):
    from agentgym.sandbox.docker_image import PYTHON_LABEL, RECIPE_LABEL, build_base_image, recipe_of

    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        for name in ("./usr/bin/python3.9", "./usr/bin/python3.11", "./bin/sh"):
            info = tarfile.TarInfo(name)
            tar.addfile(info, io.BytesIO(b""))
    client = FakeImageClient()
    lines = []
    first = build_base_image("agentgym-base:test", rootfs_tar=rootfs, client=client, progress=lines.append)
    again = build_base_image("agentgym-base:test", rootfs_tar=rootfs, client=client, progress=lines.append)
    assert first.was_built and first.source == "rootfs tarball" and first.python_version == "3.11"
    assert not again.was_built and again.source == "existing" and again.recipe == first.recipe == recipe_of(rootfs)
    ((src, kwargs),) = client.api.imports
    assert src == str(rootfs) and kwargs["repository"] == "agentgym-base" and kwargs["tag"] == "test"
    assert f"{RECIPE_LABEL}={first.recipe}" in kwargs["changes"][0] and f"{PYTHON_LABEL}=3.11" in kwargs["changes"][0]
    assert lines[-1] == first.summary() and first.summary().startswith("agentgym-base:test built from rootfs tarball")
    assert again.summary().startswith("agentgym-base:test is up to date (recipe ")


def test_a_rootfs_without_python_is_refused(tmp_path):
    from agentgym.sandbox.docker_image import BaseImageError, build_base_image

    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        tar.addfile(tarfile.TarInfo("./bin/sh"), io.BytesIO(b""))
    with pytest.raises(BaseImageError, match="has no usr/bin/python3.N"):
        build_base_image("x:y", rootfs_tar=rootfs, client=FakeImageClient(), progress=lambda line: None)


def test_default_mirror_is_read_from_apt_sources(tmp_path, monkeypatch):
    from agentgym.sandbox import docker_image

    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\n\nTypes: deb\nURIs: http://mirror.example/debian/\n"
    )
    monkeypatch.setattr(docker_image, "_SOURCES", (str(tmp_path / "sources.list"), str(tmp_path / "sources.list.d")))
    assert docker_image.default_mirror() == "http://mirror.example/debian"
    monkeypatch.setattr(docker_image, "_SOURCES", (str(tmp_path / "nothing"),))
    assert docker_image.default_mirror() == docker_image.DEFAULT_MIRROR


class FakeImageClient:
    """`images.get` and `api.import_image_from_file` of the docker SDK, enough for `build_base_image`."""

    def __init__(self):
        outer = self
        self.images_by_name = {}

        class ImageNotFound(Exception):
            pass

        class Image:
            def __init__(self, labels):
                self.labels, self.attrs = labels, {"Size": 123_000_000}

        class Images:
            def get(self, name):
                if name not in outer.images_by_name:
                    raise ImageNotFound(name)
                return outer.images_by_name[name]

        class API:
            def __init__(self):
                self.imports = []

            def import_image_from_file(self, src, **kwargs):
                self.imports.append((src, kwargs))
                labels = dict(item.split("=", 1) for item in kwargs["changes"][0].removeprefix("LABEL ").split())
                outer.images_by_name[f"{kwargs['repository']}:{kwargs['tag']}"] = Image(labels)

        self.images, self.api = Images(), API()
