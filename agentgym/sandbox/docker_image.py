"""The offline base image of `DockerSandbox`: Debian minbase + python3 + pytest, from debootstrap or a rootfs tarball.

No image registry is needed. `build_base_image` runs ``debootstrap --variant=minbase`` against the Debian mirror apt
already uses, keeps the root file system as a tarball in the cache (``$AGENTGYM_CACHE/docker/``) so a rebuild takes
seconds, and imports it into the engine (``docker import``). A user-supplied rootfs tarball works too. The image
carries a recipe label (a hash of what went into it); an image with the same label is reused as is.

Example::

    report = build_base_image()          # first time: ~1 min (debootstrap); afterwards: "up to date" in < 1 s
    print(report.summary())              # "agentgym-base:bookworm built from debootstrap in 52.3 s (273 MB) ..."
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentgym.diskcache import cache_root
from agentgym.errors import AgentGymError

BASE_IMAGE = "agentgym-base:bookworm"
"""The image `DockerSandbox` and the code_repair per-repository images use unless told otherwise."""
SUITE = "bookworm"
PACKAGES = ("python3", "python3-pytest", "python-is-python3", "procps")
"""python3 + pytest for tests, `python` for the code_repair env, procps for `kill` (the sandbox's process sweep)."""
RECIPE_LABEL = "agentgym.base.recipe"
PYTHON_LABEL = "agentgym.base.python"
"""The image's Python version ("3.11"): per-repository images copy site-packages built for that version."""
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_SOURCES = ("/etc/apt/sources.list", "/etc/apt/sources.list.d")


class BaseImageError(AgentGymError, RuntimeError):
    """The base image could not be built (debootstrap missing or failing, an unusable tarball, no engine)."""


@dataclass(frozen=True, slots=True)
class BaseImageReport:
    """What `build_base_image` did."""

    name: str
    recipe: str
    """Hash of the inputs (suite, packages, or the tarball's sha256); the image's `agentgym.base.recipe` label."""
    source: str
    """"existing" (nothing to do), "cached rootfs", "debootstrap" or "rootfs tarball"."""
    python_version: str
    size_bytes: int
    """The image's size as the engine reports it."""
    seconds: float
    rootfs_tar: str | None
    """The tarball the image was imported from (None when the image already existed)."""

    @property
    def was_built(self) -> bool:
        return self.source != "existing"

    def summary(self) -> str:
        size = f"{self.size_bytes / 1e6:.0f} MB"
        if not self.was_built:
            return f"{self.name} is up to date (recipe {self.recipe}, Python {self.python_version}, {size})"
        return (f"{self.name} built from {self.source} in {self.seconds:.1f} s ({size}, Python {self.python_version}, "
                f"recipe {self.recipe})")  # fmt: skip


def default_mirror() -> str:
    """The Debian mirror apt uses here (the first ``deb`` source of the main archive), else deb.debian.org."""
    files: list[Path] = []
    for entry in _SOURCES:
        path = Path(entry)
        files += sorted(path.glob("*.sources")) + sorted(path.glob("*.list")) if path.is_dir() else [path]
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        deb822 = re.findall(r"^\s*URIs:\s*(\S+)", text, re.M)
        for uri in deb822 + re.findall(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M):
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def recipe_of(rootfs_tar: str | Path | None) -> str:
    """16 hex digits over the build inputs: the package list, or the user tarball's content."""
    if rootfs_tar is not None:
        digest = hashlib.sha256()
        with open(rootfs_tar, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        inputs: list[str] = ["tarball", digest.hexdigest()]
    else:
        inputs = ["debootstrap", "minbase", SUITE, *PACKAGES]
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:16]


def python_version_in(rootfs_tar: str | Path) -> str:
    """"3.11" when the tarball holds ``usr/bin/python3.11``; raises `BaseImageError` when it has no python3.N."""
    found: set[str] = set()
    with tarfile.open(rootfs_tar) as tar:
        for member in tar:
            match = re.fullmatch(r"(?:\./)?usr/bin/python(3\.\d+)", member.name)
            if match:
                found.add(match[1])
    if not found:
        raise BaseImageError(f"{rootfs_tar} has no usr/bin/python3.N: the sandbox image needs python3")
    return max(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def debootstrap_rootfs(dest: Path, *, mirror: str, progress: Callable[[str], None]) -> None:
    """Run debootstrap (minbase + `PACKAGES`) into a scratch folder and pack it as the uncompressed tarball `dest`."""
    if shutil.which("debootstrap") is None:
        raise BaseImageError("debootstrap is not installed: apt-get install debootstrap "
                             "(or `bash scripts/docker_engine.sh install`), or pass a rootfs tarball")  # fmt: skip
    if os.geteuid() != 0:
        raise BaseImageError("debootstrap needs root; run as root or pass a rootfs tarball")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="agentgym-rootfs-", dir=dest.parent) as tmp:
        root = Path(tmp) / "rootfs"
        argv = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root), mirror]
        progress(f"debootstrap {SUITE} from {mirror} (about a minute)")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
        if proc.returncode != 0:
            log = root / "debootstrap" / "debootstrap.log"
            detail = log.read_text()[-2000:] if log.is_file() else (proc.stderr or proc.stdout)[-2000:]
            raise BaseImageError(f"debootstrap failed (exit {proc.returncode}):\n{detail}")
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):  # .debs and indexes: not needed to run
            for item in (root / leftover).glob("*"):
                if item.is_file():
                    item.unlink()
        progress(f"packing the root file system into {dest}")
        partial = dest.with_name(dest.name + ".partial")
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."], check=True)
        os.replace(partial, dest)


def _labels_of(client: Any, name: str) -> dict[str, str] | None:
    """The image's labels, or None when the engine has no image of that name."""
    try:
        image = client.images.get(name)
    except Exception as e:  # docker.errors.ImageNotFound, matched by name so that fakes need not import docker
        if type(e).__name__ in ("ImageNotFound", "NotFound"):
            return None
        raise
    return dict(image.labels or {})


def _image_size(client: Any, name: str) -> int:
    return int(client.images.get(name).attrs.get("Size", 0))


def build_base_image(name: str = BASE_IMAGE, *, rootfs_tar: str | Path | None = None, mirror: str | None = None,
                     client: Any = None, cache_dir: str | Path | None = None, force: bool = False,
                     progress: Callable[[str], None] = print) -> BaseImageReport:  # fmt: skip
    """Make the base image `name` in the local engine, offline; idempotent.

    Args:
        name: the image's name and tag.
        rootfs_tar: a root file system tarball to import instead of running debootstrap (it needs python3, sh,
            coreutils and `kill`; pytest for code_repair).
        mirror: the Debian mirror for debootstrap; default: the one apt uses here (`default_mirror`).
        client: a docker SDK client (`docker.from_env()` when None).
        cache_dir: where debootstrap's tarball is kept (default ``$AGENTGYM_CACHE/docker``).
        force: import again even when an image with the same recipe exists.
        progress: called with one line per stage.

    Returns:
        A `BaseImageReport` (`source="existing"` when an image with the same recipe label was already there).

    Raises:
        BaseImageError: debootstrap is missing, not root, or failed; the tarball has no python3.
    """
    from agentgym.sandbox.docker_sdk import load_docker

    start = time.monotonic()
    if client is None:
        docker = load_docker()
        try:
            client = docker.from_env()
        except docker.errors.DockerException as e:
            raise BaseImageError(f"no Docker engine answers ({e}); start one with `bash scripts/docker_engine.sh "
                                 "start` (root, apt) or point DOCKER_HOST at one") from None
    recipe = recipe_of(rootfs_tar)
    labels = _labels_of(client, name)
    if not force and labels is not None and labels.get(RECIPE_LABEL) == recipe:
        return BaseImageReport(name=name, recipe=recipe, source="existing",
                               python_version=labels.get(PYTHON_LABEL, ""), size_bytes=_image_size(client, name),
                               seconds=time.monotonic() - start, rootfs_tar=None)  # fmt: skip
    if rootfs_tar is not None:
        tar, source = Path(rootfs_tar), "rootfs tarball"
    else:
        tar = Path(cache_dir) if cache_dir is not None else cache_root() / "docker"
        tar = tar / f"rootfs-{SUITE}-{recipe}.tar"
        source = "cached rootfs" if tar.is_file() else "debootstrap"
        if not tar.is_file():
            debootstrap_rootfs(tar, mirror=mirror or default_mirror(), progress=progress)
    python_version = python_version_in(tar)
    progress(f"importing {tar} as {name}")
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    changes = [f"LABEL {RECIPE_LABEL}={recipe} {PYTHON_LABEL}={python_version} agentgym.base=1",
               "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8",
               'CMD ["python3"]']  # fmt: skip
    client.api.import_image_from_file(str(tar), repository=repository, tag=tag, changes=changes)
    report = BaseImageReport(name=name, recipe=recipe, source=source, python_version=python_version,
                             size_bytes=_image_size(client, name), seconds=time.monotonic() - start,
                             rootfs_tar=str(tar))  # fmt: skip
    progress(report.summary())
    return report


def base_python_version(client: Any, name: str = BASE_IMAGE) -> str:
    """The base image's Python version (its label). Raises `BaseImageError` naming the build command when absent."""
    labels = _labels_of(client, name)
    if labels is None or PYTHON_LABEL not in labels:
        raise BaseImageError(
            f"the base image {name!r} is not in the local engine; build it (offline) with "
            "`agentgym docker build-base` or agentgym.sandbox.docker_image.build_base_image()"
        )
    return labels[PYTHON_LABEL]
