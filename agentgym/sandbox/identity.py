"""Who the sandboxed code runs as: a dedicated uid per sandbox when we are root, and how to kill all of its processes.

Why a dedicated uid: RLIMIT_NPROC counts the processes of the *real uid*, and root is exempt from it. Running each
sandbox as its own unprivileged uid makes the process limit count exactly that sandbox's processes, makes the host's
files subject to ordinary permissions, and lets `kill_all_processes_of` sweep every leftover with one `kill(-1)`.
Uids are leased with `flock` on a lock file per uid, so concurrent sandboxes in several host processes never share one.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import random
import shutil
import signal
import subprocess


class UidLease:
    """An exclusively held uid (and gid of the same number); `release()` frees it. Not a context manager on purpose:
    the lease lives exactly as long as the sandbox that owns it."""

    __slots__ = ("_fd", "gid", "uid")

    def __init__(self, uid: int, fd: int | None) -> None:
        self.uid = uid
        self.gid = uid
        self._fd = fd

    @property
    def is_dedicated(self) -> bool:
        """True when this is a leased uid (root mode); False when it is simply the caller's own uid."""
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


def lease_uid(lock_dir: str, uid_range: tuple[int, int], *, rng: random.Random | None = None) -> UidLease:
    """Lease a free uid from `uid_range` (root only), or return the caller's uid when not root.

    Raises:
        RuntimeError: every uid in the range is leased.
    """
    if os.geteuid() != 0:
        return UidLease(os.getuid(), None)
    os.makedirs(lock_dir, mode=0o700, exist_ok=True)
    start, stop = uid_range
    size = stop - start
    offset = (rng or random.Random()).randrange(size)  # spread concurrent leasers over the range
    for i in range(size):
        uid = start + (offset + i) % size
        fd = os.open(os.path.join(lock_dir, f"{uid}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        lease = UidLease(uid, fd)
        kill_all_processes_of(lease)  # a crashed previous holder may have left processes behind
        return lease
    raise RuntimeError(f"all {size} sandbox uids in {uid_range} are in use (lock files in {lock_dir})")


_KILL = shutil.which("kill", path="/usr/bin:/bin")


def kill_all_processes_of(lease: UidLease) -> None:
    """SIGKILL every process running as the leased uid, wherever it hides (other sessions, pid namespaces).

    `kill(-1, SIGKILL)` sent *as that uid* reaches exactly the processes it owns, and the kernel delivers it under
    the task-list lock, so a fork bomb cannot outrun it. A no-op for a non-dedicated (caller's own) uid.
    """
    if not lease.is_dedicated:
        return
    for _ in range(2):
        if _KILL is not None:
            subprocess.run(
                [_KILL, "-KILL", "-1"],
                user=lease.uid,
                group=lease.gid,
                extra_groups=[],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={},
                check=False,
            )
        else:  # pragma: no cover - every Debian/Ubuntu image has procps' kill
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgroups([])
                    os.setgid(lease.gid)
                    os.setuid(lease.uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)


def count_processes_of(uid: int, *, count_threads: bool = False) -> int:
    """Number of processes whose real uid is `uid` (read from /proc); with `count_threads`, their threads, which is
    what RLIMIT_NPROC counts."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                status = f.read()
        except OSError:
            continue
        fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
        if int(fields.get(b"Uid", b"-1 ").split()[0]) != uid:
            continue
        count += int(fields.get(b"Threads", b"1").strip()) if count_threads else 1
    return count


async def akill_all_processes_of(lease: UidLease) -> None:
    """`kill_all_processes_of` without blocking the event loop."""
    if not lease.is_dedicated or _KILL is None:
        kill_all_processes_of(lease)
        return
    for _ in range(2):
        proc = await asyncio.create_subprocess_exec(
            _KILL, "-KILL", "-1", user=lease.uid, group=lease.gid, extra_groups=[], env={},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await proc.wait()


def pids_owned_by(uid: int) -> list[int]:
    """Live pids (zombies excluded) whose /proc entry belongs to `uid`: one stat per process, so it is cheap.

    Zombies are left out: they no longer run, and their parent (often the host's init, for orphans) reaps them.
    """
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat(f"/proc/{name}").st_uid != uid:
                continue
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            pids.append(int(name))
    return pids


async def await_all_gone(lease: UidLease, *, timeout_s: float = 2.0) -> None:
    """Kill every process of the leased uid and wait until the kernel has torn them all down.

    A killed pid namespace dies asynchronously; returning only when nothing is left means that a caller's next `run`
    (and its RLIMIT_NPROC budget) starts clean. A no-op for a non-dedicated uid.
    """
    if not lease.is_dedicated:
        return
    await akill_all_processes_of(lease)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay = 0.001
    while pids_owned_by(lease.uid) and loop.time() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
        await akill_all_processes_of(lease)
