"""LocalSandbox under bubblewrap: commands, files in and out, env scrubbing, timeouts, rlimits, persistence, async."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from pathlib import Path

import pytest

from agentgym.sandbox import (
    LocalSandbox,
    Sandbox,
    SandboxBusy,
    SandboxClosed,
    SandboxConfig,
    SandboxLimits,
    SandboxPathError,
    arun_once,
    make_sandbox,
    run_once,
)
from agentgym.sandbox.config import GIB, MIB
from agentgym.sandbox.local import BASE_ENV

SMALL_LIMITS = SandboxLimits(timeout_s=10, memory_bytes=1 * GIB, max_processes=32, max_output_bytes=64 * 1024)


def test_argv_and_shell_string(box):
    assert box.run(["echo", "a b"]).stdout == "a b\n"
    result = box.run("echo $((6 * 7)); echo err >&2; exit 3")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "42\n", "err\n")
    assert result.summary().startswith("exited with code 3 in ")
    assert isinstance(box, Sandbox)


def test_python_snippet_runs_in_the_workdir_with_the_callers_interpreter(box):
    result = box.run_python("import os, sys; print(os.getcwd()); print(sys.version_info[:2])")
    assert result.ok, result.stderr
    cwd, version = result.stdout.splitlines()
    assert cwd == box.workdir and version == str(tuple(sys.version_info[:2]))


def test_files_in_and_out_persist_across_runs(box):
    box.write_file("pkg/mod.py", "VALUE = 41\n")
    box.write_file("data.bin", b"\x00\xff")
    first = box.run_python("import pkg.mod; open('out.txt', 'w').write(str(pkg.mod.VALUE + 1))")
    assert first.ok, first.stderr
    second = box.run(["sh", "-c", "cat out.txt; echo; wc -c < data.bin"])  # a later run sees the earlier run's files
    assert second.stdout.split() == ["42", "2"]
    assert box.read_file("out.txt") == b"42"
    assert box.read_file("out.txt", max_bytes=1) == b"4"


@pytest.mark.parametrize("path", ["../escape.txt", "/etc/passwd", "a/../../x", ""])
def test_file_paths_outside_the_workdir_are_refused(box, path):
    with pytest.raises(SandboxPathError):
        box.write_file(path, "x")


def test_symlinks_planted_by_the_sandbox_are_not_followed_by_the_host(box):
    assert box.run("ln -s /etc/hostname link; ln -s /etc linkdir").ok
    with pytest.raises(SandboxPathError):
        box.read_file("link")
    with pytest.raises(SandboxPathError):
        box.read_file("linkdir/hostname")
    with pytest.raises(SandboxPathError):
        box.write_file("linkdir/evil", "x")


def test_environment_is_scrubbed_and_extendable(monkeypatch):
    monkeypatch.setenv("AGENTGYM_HOST_ONLY", "leak")
    config = SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS, env={"FROM_CONFIG": "1"})
    with LocalSandbox(config) as box:
        result = box.run_python("import os, json; print(json.dumps(dict(os.environ)))", env={"FROM_RUN": "2"})
        env = __import__("json").loads(result.stdout)
        expected = {**BASE_ENV, "HOME": box.workdir, "FROM_CONFIG": "1", "FROM_RUN": "2"}
        # bwrap adds PWD and Python may add LC_CTYPE (PEP 538); nothing from the host may appear
        assert env.pop("PWD", box.workdir) == box.workdir
        assert {k: v for k, v in env.items() if k != "LC_CTYPE"} == expected
        assert "AGENTGYM_HOST_ONLY" not in box.run("env").stdout


def test_timeout_kills_and_says_so(box):
    start = time.monotonic()
    result = box.run("sleep 30", timeout_s=0.5)
    assert result.timed_out and result.killed_by == "timeout" and result.exit_code is None
    assert 0.5 <= time.monotonic() - start < 20  # far below the 30 s sleep, with room for a loaded machine
    assert result.summary() == "killed after 0.5 s wall-clock timeout"
    assert box.run("echo again").stdout == "again\n"


def test_rlimits_are_in_effect():
    limits = SandboxLimits(timeout_s=10, cpu_time_s=7, memory_bytes=512 * MIB, max_processes=20, max_open_files=64,
                           max_file_size_bytes=1 * MIB)  # fmt: skip
    code = (
        "import resource as r\n"
        "for name in ('RLIMIT_CPU', 'RLIMIT_AS', 'RLIMIT_NPROC', 'RLIMIT_NOFILE', 'RLIMIT_FSIZE', 'RLIMIT_CORE'):\n"
        "    print(name, *r.getrlimit(getattr(r, name)))\n"
    )
    with LocalSandbox(SandboxConfig(isolation="bwrap", limits=limits)) as box:
        lines = dict(line.split(" ", 1) for line in box.run_python(code).stdout.splitlines())
        assert lines == {"RLIMIT_CPU": "7 8", "RLIMIT_AS": f"{512 * MIB} {512 * MIB}", "RLIMIT_NPROC": "20 20",
                         "RLIMIT_NOFILE": "64 64", "RLIMIT_FSIZE": f"{MIB} {MIB}", "RLIMIT_CORE": "0 0"}  # fmt: skip
        big = box.run_python("open('big', 'wb').write(b'x' * (2 * 1024 * 1024))")
        assert big.killed_by == "file size" and "File too large" in big.stderr
        assert big.summary() == "stopped by the file-size limit 1 MiB (a write grew a file past it)"
        files = box.run_python("import os\nfds = [os.open('/dev/null', os.O_RDONLY) for _ in range(100)]")
        assert files.exit_code == 1 and "Too many open files" in files.stderr and files.killed_by == "open files"


def test_output_is_truncated_with_a_marker():
    limits = SandboxLimits(timeout_s=10, max_output_bytes=1000)
    with LocalSandbox(SandboxConfig(isolation="bwrap", limits=limits)) as box:
        result = box.run_python("import sys; sys.stdout.write('a' * 5000 + 'END'); sys.stderr.write('e' * 10)")
    assert result.stdout_truncated and not result.stderr_truncated
    assert result.stdout == "a" * 750 + "\n[... truncated 4,003 bytes ...]\n" + "a" * 247 + "END"
    assert result.stderr == "e" * 10
    assert result.summary().endswith("; stdout truncated at the output limit")


def test_the_process_runs_as_an_unprivileged_uid_when_we_are_root(box):
    result = box.run_python("import os; print(os.getuid(), os.geteuid(), os.getgroups())")
    uid, euid, groups = result.stdout.split(" ", 2)
    if os.geteuid() == 0:
        assert int(uid) == int(euid) == box.uid != 0 and groups.strip() == "[]"
    else:
        assert int(uid) == os.getuid()


def test_stdin_is_passed(box):
    assert box.run(["cat"], stdin="piped in").stdout == "piped in"
    assert box.run(["cat"]).stdout == ""  # no stdin: /dev/null, never the test's terminal


def test_extra_binds_read_only_and_read_write(tmp_path):
    ro_dir, rw_dir = tmp_path / "ro", tmp_path / "rw"
    ro_dir.mkdir()
    rw_dir.mkdir()
    (ro_dir / "lib.py").write_text("ANSWER = 42\n")
    os.chmod(rw_dir, 0o777)
    config = SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS, ro_binds=((str(ro_dir), "/tmp/opt/lib"),),
                           rw_binds=(str(rw_dir),))  # fmt: skip
    with LocalSandbox(config) as box:
        result = box.run_python(
            "import sys; sys.path.insert(0, '/tmp/opt/lib'); import lib; print(lib.ANSWER)\n"
            f"open('{rw_dir}/written', 'w').write('ok')\n"
            "try:\n    open('/tmp/opt/lib/evil', 'w')\nexcept OSError as e:\n    print(type(e).__name__, e.errno)\n"
        )
    assert result.stdout.split("\n")[:2] == ["42", "OSError 30"], result.stderr  # EROFS
    assert (rw_dir / "written").read_text() == "ok"
    assert not (ro_dir / "evil").exists()


def test_persistent_sandbox_runs_one_command_at_a_time_and_closes_idempotently():
    box = LocalSandbox(SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS))
    workdir = box.workdir

    async def two_at_once():  # the first command runs until the test lets it go: no race with a fixed sleep
        first = asyncio.ensure_future(box.arun("touch running; while [ ! -e go ]; do sleep 0.01; done; echo first"))
        while not (Path(workdir) / "running").exists():
            await asyncio.sleep(0.01)
        with pytest.raises(SandboxBusy):
            await box.arun("echo second")
        (Path(workdir) / "go").touch()
        return await first

    assert asyncio.run(two_at_once()).stdout == "first\n"
    box.close()
    box.close()
    assert not os.path.exists(workdir)
    with pytest.raises(SandboxClosed):
        box.run("true")


def test_one_shot_helpers_clean_up_after_themselves():
    result = run_once(["python3", "main.py"], files={"main.py": "print(open('in.txt').read())", "in.txt": "data"},
                      config=SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS))  # fmt: skip
    assert result.stdout == "data\n"
    again = asyncio.run(arun_once("ls", config=SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS)))
    assert again.ok and again.stdout == ""  # a fresh, empty working directory


def test_async_runs_are_concurrent_and_do_not_block_the_loop():
    # Shown by the commands' own clocks, with margins a loaded machine cannot eat: run one after another, 8 commands
    # of 2.5 s would span >= 20 s; run concurrently they span 2.5 s plus however long the 8 starts are spread (on a
    # busy box, seconds). And the loop kept ticking while they ran, so it was never blocked.
    async def main():
        boxes = [LocalSandbox(SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS)) for _ in range(8)]
        ticks: list[float] = []

        async def ticker():
            while True:
                await asyncio.sleep(0.01)
                ticks.append(time.time())  # the clock `date` reads

        tick_task = asyncio.ensure_future(ticker())
        results = await asyncio.gather(*(b.arun("date +%s.%N; sleep 2.5; date +%s.%N; echo $HOME") for b in boxes))
        tick_task.cancel()
        for b in boxes:
            b.close()
        return results, ticks, boxes

    results, ticks, boxes = asyncio.run(main())
    lines = [r.stdout.split() for r in results]
    assert [line[2] for line in lines] == [b.workdir for b in boxes]
    starts, ends = [float(line[0]) for line in lines], [float(line[1]) for line in lines]
    assert all(e - st >= 2.4 for st, e in zip(starts, ends))
    assert max(ends) - min(starts) < 10.0  # at least 2 at a time on average; sequential runs would take >= 20 s
    assert sum(min(starts) < t < max(ends) for t in ticks) >= 3  # a blocked loop would not tick while they run


def test_sync_run_works_inside_a_running_event_loop(box):
    async def main():
        return box.run("echo from-loop")

    assert asyncio.run(main()).stdout == "from-loop\n"


def test_make_sandbox_factory():
    with make_sandbox("local", SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS)) as box:
        assert isinstance(box, LocalSandbox) and box.run("true").ok
    with pytest.raises(ValueError, match="backend must be one of"):
        make_sandbox("vm")


def test_command_type_errors(box):
    with pytest.raises(TypeError):
        box.run([])
    with pytest.raises(TypeError):
        box.run(b"echo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_s"):
        box.run("true", timeout_s=-1)


def test_no_processes_are_left_after_each_run(box, processes_left):
    result = box.run("(sleep 30 &) ; (setsid sleep 30 &) ; echo started")
    assert result.ok and result.stdout == "started\n"
    assert processes_left(box.uid) == []


def test_host_rlimits_of_the_test_process_are_untouched(box):
    before = resource.getrlimit(resource.RLIMIT_AS)
    box.run("true")
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_a_dropped_sandbox_is_cleaned_up_by_the_garbage_collector(processes_left):
    import gc

    box = LocalSandbox(SandboxConfig(isolation="bwrap", limits=SMALL_LIMITS))
    workdir, uid = box.workdir, box.uid
    assert box.run("echo x > f").ok
    del box
    gc.collect()
    assert not os.path.exists(workdir) and processes_left(uid) == []
