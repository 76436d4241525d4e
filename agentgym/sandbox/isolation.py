"""Builds the argv that wraps a command in namespaces: bubblewrap, `unshare`, or (only on request) nothing.

Under bubblewrap the host file system is read-only, /tmp and /dev/shm are private size-limited tmpfs, the working
directory is the only writable host path, and there is no network but `lo`. As root, bwrap does the mounts with root's
rights and `setpriv` then drops to the sandbox's own uid (see identity.py); host directories that this uid could not
traverse (an interpreter under /root) are covered by a tmpfs holding only the paths the sandbox needs.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from agentgym.sandbox.config import SandboxConfig
from agentgym.sandbox.errors import SandboxUnavailable
from agentgym.sandbox.identity import UidLease

logger = logging.getLogger("agentgym.sandbox")

INSTALL_BWRAP = "install bubblewrap (Debian/Ubuntu: apt-get install -y bubblewrap; Fedora: dnf install bubblewrap)"
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything needed to spawn one wrapped command."""

    argv: list[str]
    backend: str
    """"bwrap", "unshare" or "none"."""
    signal_exit_base: int | None
    """Wrappers that report a child killed by signal N as exit status base+N (bwrap and our sh init: 128)."""


@functools.cache
def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=_SYSTEM_PATH)


@functools.cache
def bwrap_problem() -> str | None:
    """Why bubblewrap cannot be used here (None when it works); probed once per process with a no-op sandbox."""
    bwrap = _which("bwrap")
    if bwrap is None:
        return f"`bwrap` is not on PATH; {INSTALL_BWRAP}"
    userns = [] if os.geteuid() == 0 else ["--unshare-user"]
    argv = [bwrap, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", *userns, "--unshare-net", "--unshare-pid",
            "--", "/bin/sh", "-c", "exit 0"]  # fmt: skip
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=10, env={"PATH": _SYSTEM_PATH}, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap failed to start: {e}"
    if proc.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {proc.stderr.decode(errors='replace').strip()}"
    return None


def resolve_backend(requested: str) -> str:
    """Map a `SandboxConfig.isolation` value to the backend that will run, or raise `SandboxUnavailable`."""
    if requested in ("auto", "bwrap"):
        problem = bwrap_problem()
        if problem is None:
            return "bwrap"
        if requested == "bwrap":
            raise SandboxUnavailable(f"isolation='bwrap' was requested but {problem}")
        if _which("unshare") is None:
            raise SandboxUnavailable(
                f"no isolation available: {problem}, and `unshare` (util-linux) is missing too. Refusing to run "
                "untrusted code without isolation; pass isolation='none' to run it anyway (unsafe)."
            )
        logger.warning("sandbox: falling back to `unshare` (network/pid namespaces, host file system NOT read-only): %s",
                       problem)  # fmt: skip
        return "unshare"
    if requested == "unshare":
        if _which("unshare") is None:
            raise SandboxUnavailable("isolation='unshare' was requested but `unshare` (util-linux) is not on PATH")
        return "unshare"
    logger.warning("sandbox: isolation='none': the command runs WITHOUT namespaces; it can reach the network and "
                   "everything its uid can read. Use only for trusted code; %s for real isolation.", INSTALL_BWRAP)  # fmt: skip
    return "none"


PRIVATE_TMPFS = ("/tmp", "/dev/shm")


def unreachable_ancestor(path: str) -> str | None:
    """The topmost proper ancestor of `path` that an unprivileged stranger cannot traverse (no o+x), or None."""
    parts = os.path.normpath(path).split(os.sep)[1:-1]
    current = "/"
    for part in parts:
        current = os.path.join(current, part)
        try:
            mode = os.stat(current).st_mode
        except OSError:
            return None  # does not exist on the host: bwrap will create it inside
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return current
    return None


def interpreter_roots(python_executable: str) -> list[str]:
    """Installation roots an interpreter needs: its own prefix (a venv) and that of the binary it links to."""
    roots = []
    for exe in (os.path.abspath(python_executable), os.path.realpath(python_executable)):
        root = os.path.dirname(os.path.dirname(exe))
        if root not in roots and root != "/":
            roots.append(root)
    return roots


def _setpriv(lease: UidLease) -> list[str]:
    setpriv = _which("setpriv")
    if setpriv is None:
        raise SandboxUnavailable("running as root needs `setpriv` (util-linux) to drop to the sandbox uid")
    return [setpriv, f"--reuid={lease.uid}", f"--regid={lease.gid}", "--clear-groups", "--no-new-privs", "--"]


def _bwrap_mounts(config: SandboxConfig, workdir: str, lease: UidLease) -> list[str]:
    size = str(config.limits.tmp_size_bytes)
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", size, "--tmpfs", "/tmp", "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]  # fmt: skip
    binds: list[tuple[str, str, str]] = []
    for root in interpreter_roots(config.python_executable):
        # A venv under /tmp (a fresh clone in CI) is hidden by the private /tmp above: bind it back, read-only.
        hidden = any(root == r or root.startswith(r + "/") for r in PRIVATE_TMPFS)
        if hidden or (lease.is_dedicated and unreachable_ancestor(root + "/x") is not None):
            binds.append(("--ro-bind", root, root))
    binds += [("--ro-bind", src, dest) for src, dest in config.ro_binds]
    binds += [("--bind", src, dest) for src, dest in config.rw_binds]
    binds.append(("--bind", workdir, workdir))
    tmpfs_roots = list(PRIVATE_TMPFS)
    if lease.is_dedicated:  # hide untraversable host directories behind a tmpfs that holds only our binds
        covers = sorted({a for _, _, dest in binds if (a := unreachable_ancestor(dest)) is not None}, key=len)
        for cover in covers:
            if not any(cover.startswith(c + "/") for c in covers if c != cover):
                args += ["--size", str(1024 * 1024), "--tmpfs", cover]
                tmpfs_roots.append(cover)
    # Mount points that bwrap creates inside a tmpfs would be 0700 root: make them traversable for the sandbox uid.
    made: set[str] = set()
    for _, _, dest in binds:
        ancestor = os.path.dirname(dest)
        chain = []
        while ancestor not in ("/", "") and ancestor not in made:
            if any(ancestor.startswith(root + "/") for root in tmpfs_roots):
                chain.append(ancestor)
            ancestor = os.path.dirname(ancestor)
        for directory in reversed(chain):
            args += ["--perms", "0755", "--dir", directory]
            made.add(directory)
    for flag, src, dest in binds:
        args += [flag, src, dest]
    return args


def build_launch(
    backend: str, command: Sequence[str], *, config: SandboxConfig, workdir: str, lease: UidLease
) -> Launch:
    """The argv that runs `command` in `workdir` under `backend`, as the leased uid when we are root."""
    command = list(command)
    drop = _setpriv(lease) if lease.is_dedicated else []
    if backend == "bwrap":
        argv = [_which("bwrap") or "bwrap", *_bwrap_mounts(config, workdir, lease)]
        if lease.is_dedicated:  # no user namespace: root sets up, setpriv drops to the sandbox uid
            argv += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
            argv += [] if config.network else ["--unshare-net"]
            argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            argv += ["--unshare-all", "--disable-userns"] + (["--share-net"] if config.network else [])
        argv += ["--hostname", "sandbox", "--die-with-parent", "--new-session", "--chdir", workdir, "--"]
        return Launch(argv + drop + command, "bwrap", 128)
    if backend == "unshare":
        argv = [_which("unshare") or "unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--ipc", "--uts"]
        argv += [] if config.network else ["--net"]
        argv += [] if lease.is_dedicated else ["--map-root-user"]
        # A shell as pid 1 of the namespace runs the command as its child: pid 1 ignores default-action signals,
        # which would make the command unkillable from inside, and the shell reports signal N as 128+N.
        init = ["/bin/sh", "-c", '"$@"; exit $?', "sandbox-init"]
        return Launch([*argv, "--", *drop, *init, *command], "unshare", 128)
    if backend == "none":
        return Launch(drop + command, "none", None)
    raise ValueError(f"backend must be 'bwrap', 'unshare' or 'none', got {backend!r}")
