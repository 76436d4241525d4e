"""The sandbox's working directory on the host: creating it for the sandbox uid, and moving files in and out safely.

The sandboxed code owns this directory and may plant symlinks in it. Every host-side read or write therefore
resolves the path and refuses anything that lands outside the directory, and never follows a final symlink.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile

from agentgym.sandbox.errors import SandboxPathError


def default_workdir_root() -> str:
    return os.path.join(tempfile.gettempdir(), "agentgym-sandbox")


def create_workdir(root: str, *, uid: int, gid: int) -> str:
    """A fresh directory under `root` owned by the sandbox uid (mode 0700); `root` is made traversable (0711)."""
    os.makedirs(root, mode=0o711, exist_ok=True)
    if os.geteuid() == 0:
        os.chmod(root, 0o711)
    path = tempfile.mkdtemp(prefix="run-", dir=root)
    if os.geteuid() == 0:
        os.chown(path, uid, gid)
    return path


def resolve_inside(workdir: str, path: str) -> str:
    """Host path of `path` (relative to the workdir, or absolute inside it); raises SandboxPathError if it escapes."""
    if not isinstance(path, str) or not path or "\0" in path:
        raise SandboxPathError(f"path must be a non-empty string, got {path!r}")
    joined = os.path.normpath(os.path.join(workdir, path))
    parent = os.path.realpath(os.path.dirname(joined))
    real_root = os.path.realpath(workdir)
    if joined == workdir or os.path.commonpath([parent, real_root]) != real_root:
        raise SandboxPathError(f"{path!r} is outside the sandbox working directory {workdir}")
    return os.path.join(parent, os.path.basename(joined))


def write_file(workdir: str, path: str, data: bytes | str, *, mode: int, uid: int, gid: int) -> str:
    """Write `data` at `path` inside the workdir, creating parent directories, owned by the sandbox uid."""
    target = resolve_inside(workdir, path)
    is_root = os.geteuid() == 0
    missing = []
    parent = os.path.dirname(target)
    while not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        os.mkdir(directory, 0o755)
        if is_root:
            os.chown(directory, uid, gid)
    payload = data.encode() if isinstance(data, str) else bytes(data)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(payload)
    os.chmod(target, mode)
    if is_root:
        os.chown(target, uid, gid)
    return target


def read_file(workdir: str, path: str, *, max_bytes: int | None = None) -> bytes:
    """Bytes of `path` inside the workdir (at most `max_bytes`); symlinks out of it are refused."""
    target = resolve_inside(workdir, path)
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ELOOP:  # the final component is a symlink
            raise SandboxPathError(f"{path!r} is a symlink; read the file it points to by its own path") from e
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # a planted FIFO or device would block or lie
            raise SandboxPathError(f"{path!r} is not a regular file")
        return f.read() if max_bytes is None else f.read(max_bytes)


def remove_workdir(path: str) -> None:
    """Delete the workdir even if the sandboxed code removed permissions inside it."""

    def make_writable_and_retry(func, failed_path, _exc):
        try:
            os.chmod(os.path.dirname(failed_path), 0o700)
            os.chmod(failed_path, 0o700)
            func(failed_path)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable_and_retry)
