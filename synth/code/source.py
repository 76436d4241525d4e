"""Getting a project's source tree into the cache: a PyPI sdist (downloaded once with pip) or a local folder copy.

Only pip talks to the network, and only here; everything after this step runs offline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from agentgym.errors import AgentGymError
from agentgym.synth.code.project_cache import code_cache, locked
from agentgym.synth.code.projects import ProjectSpec
from agentgym.synth.code.tree import SKIP_DIRS


class SourceError(AgentGymError, RuntimeError):
    """A project's source could not be obtained (pip failed, the archive is unusable)."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_sdist(spec: ProjectSpec) -> Path:
    """The sdist of `spec` in the cache, downloaded with `pip download --no-binary NAME --no-deps` on first use.

    `--no-binary NAME` (not `:all:`) keeps the project itself a source distribution while pip may use wheels for
    the build backend it needs to read the metadata, which is minutes faster.
    """
    folder = code_cache() / "sdists" / f"{spec.name}-{spec.version}"
    with locked(folder):
        found = _archives(folder)
        if found:
            return found[0]
        tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=folder.parent))
        try:
            argv = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", spec.name,
                    "--dest", str(tmp), f"{spec.name}=={spec.version}"]  # fmt: skip
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
            if proc.returncode != 0 or not _archives(tmp):
                raise SourceError(f"pip download of {spec.label} failed:\n{proc.stderr.strip()[-2000:]}")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return _archives(folder)[0]


def _archives(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith((".tar.gz", ".tgz", ".zip", ".tar.bz2")))


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack `archive` into `dest` (atomically, once), dropping the single top folder; returns `dest`."""
    with locked(dest):
        if dest.is_dir():
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
        try:
            if archive.name.endswith(".zip"):
                with zipfile.ZipFile(archive) as z:
                    for name in z.namelist():
                        if name.startswith("/") or ".." in Path(name).parts:
                            raise SourceError(f"{archive.name}: member {name!r} leaves the archive")
                    z.extractall(tmp)
            else:
                with tarfile.open(archive) as tar:
                    tar.extractall(tmp, filter="data")
            entries = list(tmp.iterdir())
            top = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
            os.chmod(top, 0o755)
            os.replace(top, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def copy_local(folder: Path, dest: Path) -> Path:
    """A snapshot of a local project folder (VCS data, caches and virtualenvs left out), written atomically."""
    with locked(dest):
        if dest.is_dir():
            return dest
        tmp = Path(tempfile.mkdtemp(prefix=".copy-", dir=dest.parent))
        try:
            shutil.copytree(folder, tmp / "repo", symlinks=True,
                            ignore=lambda d, names: [n for n in names if n in SKIP_DIRS or n.endswith(".pyc")])  # fmt: skip
            os.replace(tmp / "repo", dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def fetch_project(spec: ProjectSpec) -> tuple[Path, dict[str, str]]:
    """(source tree in the cache, provenance). PyPI projects are keyed by version, local ones by content hash."""
    if spec.path is not None:
        from agentgym.synth.code.tree import tree_sha256

        key = tree_sha256(spec.path)
        dest = code_cache() / "projects" / f"{spec.name}-local-{key[:16]}"
        return copy_local(Path(spec.path), dest), {"source": "local", "path": spec.path, "source_sha256": key}
    archive = download_sdist(spec)
    dest = code_cache() / "projects" / f"{spec.name}-{spec.version}"
    return unpack(archive, dest), {"source": "pypi-sdist", "sdist": archive.name, "source_sha256": file_sha256(archive)}
