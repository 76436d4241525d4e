"""`DockerSandbox`: the `Sandbox` interface on a Docker container (docker SDK, imported only here, on demand).

One container per sandbox lives as long as the sandbox: no network, read-only root, a tmpfs working directory,
memory and pids limits, all capabilities dropped, no-new-privileges. Commands run as `docker exec` under a uid other
than the container's keep-alive process, so that `kill -9 -1` as that uid sweeps every leftover after each command.
The per-process limits of `SandboxLimits` (CPU time, open files, file size) are container ulimits and its outcome is
classified by the same code as `LocalSandbox`'s (`interpret`). Memory is the container's cgroup limit, shared by all
its processes (no RLIMIT_AS: runc's own start-up needs more address space); an OOM kill is reported as "memory".
The default image is the offline base image (`agentgym.sandbox.docker_image.build_base_image`).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import posixpath
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from agentgym.sandbox.config import SandboxConfig
from agentgym.sandbox.docker_image import BASE_IMAGE
from agentgym.sandbox.docker_sdk import load_docker
from agentgym.sandbox.errors import SandboxClosed, SandboxError, SandboxPathError
from agentgym.sandbox.isolation import Launch
from agentgym.sandbox.home import BASE_ENV, Command, to_argv
from agentgym.sandbox.outcome import interpret
from agentgym.sandbox.output import OutputCapture
from agentgym.sandbox.process import RawOutcome
from agentgym.sandbox.result import ExecResult, format_bytes

EXEC_UID = 10001
"""Uid of the commands; the keep-alive runs as 65534, out of reach of the sweep."""
_B64_CHUNK = 96 * 1024  # one argv string may not exceed 128 KiB (MAX_ARG_STRLEN)
_OOM_FILES = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")  # cgroup v1, v2


def container_settings(config: SandboxConfig, *, image: str, workdir: str) -> dict[str, Any]:
    """Keyword arguments of `containers.run`: every security setting lives here so tests can check them in one place."""
    limits = config.limits
    ulimits = (
        [{"Name": "nofile", "Soft": limits.max_open_files, "Hard": limits.max_open_files}]
        if limits.max_open_files
        else []
    )
    if limits.max_file_size_bytes is not None:
        ulimits.append({"Name": "fsize", "Soft": limits.max_file_size_bytes, "Hard": limits.max_file_size_bytes})
    ulimits.append({"Name": "core", "Soft": 0, "Hard": 0})
    cpu_s = limits.effective_cpu_time_s
    ulimits.append({"Name": "cpu", "Soft": cpu_s, "Hard": cpu_s + 1})  # SIGXCPU first, SIGKILL a second later
    tmpfs_opts = f"rw,exec,nosuid,nodev,size={limits.tmp_size_bytes},mode=1777"
    # The engine creates `working_dir` 0755 root-owned and the tmpfs copies that mode up: own it by the exec uid.
    workdir_opts = f"{tmpfs_opts},uid={EXEC_UID},gid={EXEC_UID}"
    settings: dict[str, Any] = dict(
        image=image, command=["sleep", "infinity"], detach=True, init=True, user="65534:65534",
        working_dir=workdir, read_only=True, tmpfs={workdir: workdir_opts, "/tmp": tmpfs_opts},
        cap_drop=["ALL"], security_opt=["no-new-privileges"], ulimits=ulimits,
        environment={**BASE_ENV, "HOME": workdir, **config.env}, labels={"agentgym.sandbox": "1"},
        volumes={src: {"bind": dest, "mode": "ro"} for src, dest in config.ro_binds}
        | {src: {"bind": dest, "mode": "rw"} for src, dest in config.rw_binds},
    )  # fmt: skip
    if config.network:
        settings["network_mode"] = "bridge"
    else:
        settings["network_disabled"] = True
        settings["network_mode"] = "none"
    if limits.memory_bytes is not None:
        settings["mem_limit"] = limits.memory_bytes
        settings["memswap_limit"] = limits.memory_bytes  # no swap beyond the limit
    if limits.max_processes is not None:
        settings["pids_limit"] = limits.max_processes + 2  # + init and the keep-alive
    return settings


class DockerSandbox:
    """A sandbox backed by one Docker container (removed on `close`). Same interface as `LocalSandbox`.

    Args:
        config: limits and isolation; `python_executable` is ignored (the image's `python3` runs snippets).
        image: the container image; it needs `sh`, `timeout`, `kill`, `cat` and `base64` (coreutils or busybox).
            The default, `agentgym-base:bookworm`, is built offline by `docker_image.build_base_image`.
        client: a docker client (`docker.from_env()` when None); tests inject a fake one.
        workdir: the tmpfs working directory inside the container.
    """

    def __init__(self, config: SandboxConfig | None = None, *, image: str = BASE_IMAGE, client: Any = None,
                 workdir: str = "/workspace") -> None:  # fmt: skip
        self.config = config if config is not None else SandboxConfig()
        self.image = image
        self.workdir = workdir
        self._client = client if client is not None else load_docker().from_env()
        settings = container_settings(self.config, image=image, workdir=workdir)
        self._container = self._client.containers.create(**settings)
        try:
            self._container.start()
        except BaseException:  # e.g. the runtime refused a setting: a created container must not be left behind
            self._container.remove(force=True)
            raise
        self._is_closed = False
        self._num_oom_kills = 0

    # -- running ----------------------------------------------------------------------------------------------------
    def _exec(
        self, argv: list[str], *, env: Mapping[str, str] | None = None, stdin: bytes | None = None
    ) -> tuple[str, Any]:
        api = self._client.api
        exec_id = api.exec_create(self._container.id, argv, workdir=self.workdir, user=f"{EXEC_UID}:{EXEC_UID}",
                                  environment={**self.config.env, **(env or {})}, stdin=False)["Id"]  # fmt: skip
        return exec_id, api.exec_start(exec_id, stream=True, demux=True)

    def _sweep(self) -> None:
        """Kill whatever the last command left behind (daemonized grandchildren included)."""
        _, stream = self._exec(["kill", "-KILL", "-1"])
        for _ in stream:
            pass

    def run(self, command: Command, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
            stdin: bytes | str | None = None) -> ExecResult:  # fmt: skip
        """Run `command` in the container's working directory (see `LocalSandbox.run`)."""
        self._check_open()
        argv = to_argv(command)
        if stdin is not None:
            raise SandboxError("DockerSandbox does not support stdin yet; write the input to a file instead")
        limits = (
            self.config.limits if timeout_s is None else dataclasses.replace(self.config.limits, timeout_s=timeout_s)
        )
        stdout, stderr = OutputCapture(limits.max_output_bytes), OutputCapture(limits.max_output_bytes)
        start = time.monotonic()
        exec_id, stream = self._exec(["timeout", "-s", "KILL", f"{limits.timeout_s:g}", *argv], env=env)
        # `timeout` kills its own process group; a setsid'd grandchild holding the pipe open is swept by this watchdog.
        watchdog = threading.Timer(limits.timeout_s + 2.0, self._sweep)
        watchdog.daemon = True
        watchdog.start()
        try:
            for out_chunk, err_chunk in stream:
                if out_chunk:
                    stdout.feed(out_chunk)
                if err_chunk:
                    stderr.feed(err_chunk)
        finally:
            watchdog.cancel()
        duration = time.monotonic() - start
        rc = self._exit_code(exec_id)
        self._sweep()
        if rc is None:
            return ExecResult(exit_code=None, stdout=stdout.text(), stderr=stderr.text(), duration_s=duration,
                              error="docker exec reported no exit status")  # fmt: skip
        timed_out = rc == 137 and duration >= limits.timeout_s * 0.98  # `timeout -s KILL` kills its whole group
        raw = RawOutcome(returncode=rc, stdout=stdout, stderr=stderr, timed_out=timed_out, duration_s=duration)
        result = interpret(raw, Launch(argv=argv, backend="docker", signal_exit_base=128), limits)
        if result.killed_by == "signal 9" and limits.memory_bytes is not None and self._oom_killed():
            return dataclasses.replace(result, killed_by="memory",
                                       reason=f"memory limit {format_bytes(limits.memory_bytes)}")  # fmt: skip
        return result

    def _exit_code(self, exec_id: str) -> int | None:
        """The exec's exit status; the engine may mark it finished a moment after its output stream ends."""
        deadline = time.monotonic() + 5.0
        while True:
            info = self._client.api.exec_inspect(exec_id)
            if info.get("ExitCode") is not None and not info.get("Running", False):
                return info["ExitCode"]
            if time.monotonic() > deadline:
                return info.get("ExitCode")
            time.sleep(0.01)

    def _oom_killed(self) -> bool:
        """Did the container's memory cgroup OOM-kill something since the last check? (Read from inside.)"""
        _, stream = self._exec(["cat", "--", *_OOM_FILES])
        text = b"".join(out or b"" for out, _ in stream).decode(errors="replace")
        counts = [int(n) for n in re.findall(r"^oom_kill (\d+)$", text, re.M)]
        if not counts:
            return False
        previous, self._num_oom_kills = self._num_oom_kills, max(counts)
        return self._num_oom_kills > previous

    def run_python(self, code: str, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
                   stdin: bytes | str | None = None) -> ExecResult:  # fmt: skip
        """Run a Python snippet with the image's `python3`."""
        return self.run(["python3", "-c", code], timeout_s=timeout_s, env=env, stdin=stdin)

    async def arun(self, command: Command, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
                   stdin: bytes | str | None = None) -> ExecResult:  # fmt: skip
        """Async `run`: the blocking docker SDK runs in a worker thread."""
        return await asyncio.to_thread(self.run, command, timeout_s=timeout_s, env=env, stdin=stdin)

    async def arun_python(self, code: str, *, timeout_s: float | None = None, env: Mapping[str, str] | None = None,
                          stdin: bytes | str | None = None) -> ExecResult:  # fmt: skip
        return await asyncio.to_thread(self.run_python, code, timeout_s=timeout_s, env=env, stdin=stdin)

    # -- files ------------------------------------------------------------------------------------------------------
    def _inside(self, path: str) -> str:
        full = posixpath.normpath(posixpath.join(self.workdir, path))
        if not path or not full.startswith(self.workdir.rstrip("/") + "/"):
            raise SandboxPathError(f"{path!r} is outside the sandbox working directory {self.workdir}")
        return full

    def write_file(self, path: str, data: bytes | str, *, mode: int = 0o644) -> str:
        """Write a file into the container's working directory (through `docker exec`: tmpfs is not reachable by
        `put_archive`)."""
        self._check_open()
        full = self._inside(path)
        payload = base64.b64encode(data.encode() if isinstance(data, str) else bytes(data)).decode()
        chunks = [payload[i : i + _B64_CHUNK] for i in range(0, len(payload), _B64_CHUNK)] or [""]
        for i, chunk in enumerate(chunks):
            redirect = ">" if i == 0 else ">>"
            script = f'mkdir -p "$(dirname "$1")" && printf %s "$2" | base64 -d {redirect} "$1" && chmod {mode:o} "$1"'
            result = self.run(["sh", "-c", script, "sh", full, chunk])
            if not result.ok:
                raise SandboxError(
                    f"could not write {path!r} in the container: {result.summary()}: {result.stderr.strip()}"
                )
        return full

    def read_file(self, path: str, *, max_bytes: int | None = None) -> bytes:
        """Read a file back from the container's working directory."""
        self._check_open()
        full = self._inside(path)
        argv = ["head", "-c", str(max_bytes), "--", full] if max_bytes is not None else ["cat", "--", full]
        exec_id, stream = self._exec(argv)
        out, err = bytearray(), bytearray()
        for out_chunk, err_chunk in stream:
            out += out_chunk or b""
            err += err_chunk or b""
        if self._client.api.exec_inspect(exec_id).get("ExitCode") != 0:
            raise FileNotFoundError(f"{path!r} in the container: {err.decode(errors='replace').strip()}")
        return bytes(out)

    # -- lifetime ---------------------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._is_closed:
            raise SandboxClosed("this sandbox is closed; create a new one")

    def close(self) -> None:
        """Remove the container (and with it the working directory). Idempotent."""
        if self._is_closed:
            return
        self._is_closed = True
        self._container.remove(force=True)

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
