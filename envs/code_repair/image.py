"""One Docker image per repository for the docker backend: the prepared test env plus the snapshot, built once.

The Dockerfile is generated from what the task already carries: the Python version and the exact packages of its
prepared venv (pinned from the venv's ``*.dist-info``), and the repository snapshot, copied read-only to ``/repo``.
The tag is a hash of everything that goes into the build (Dockerfile, requirements, snapshot hash), so an image that
exists is reused as is, and any change to the env or the snapshot gives a new tag. An episode starts by copying
``/repo`` into the container's tmpfs working directory in one command (no per-file writes).

Example tag: ``agentgym-code-repair/isodate-0.7.2:3f2a9c01b7de4d15``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from agentgym.envs.code_repair.snapshot import iter_files

REPO_IN_IMAGE = "/repo"
IMAGE_REPOSITORY = "agentgym-code-repair"
LABEL = "agentgym.code_repair"
SKIPPED_PACKAGES = frozenset({"pip", "setuptools", "wheel", "distribute"})
DEFAULT_REQUIREMENTS = ("pytest>=8",)
"""What a task without a prepared venv gets (its tests ran with the host interpreter's pytest)."""


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def venv_requirements(venv: str | Path | None) -> list[str]:
    """``name==version`` for every package in the venv's site-packages (pip and setuptools left out), sorted."""
    if venv is None:
        return list(DEFAULT_REQUIREMENTS)
    found: dict[str, str] = {}
    for info in sorted(Path(venv).glob("lib/python*/site-packages/*.dist-info")):
        match = re.fullmatch(r"(.+?)-([^-]+)\.dist-info", info.name)
        if match and _canonical(match[1]) not in SKIPPED_PACKAGES:
            found[_canonical(match[1])] = match[2]
    if "pytest" not in found:
        raise ValueError(f"the venv {venv} has no pytest; it is not a prepared test env")
    return [f"{name}=={version}" for name, version in sorted(found.items())]


def venv_python_version(venv: str | Path | None) -> str:
    """"3.11" from the venv's ``pyvenv.cfg`` (this interpreter's version when there is no venv)."""
    if venv is not None:
        cfg = Path(venv) / "pyvenv.cfg"
        if cfg.is_file():
            for line in cfg.read_text().splitlines():
                key, _, value = line.partition("=")
                if key.strip() in ("version", "version_info"):
                    return ".".join(value.strip().split(".")[:2])
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def dockerfile(python_version: str) -> str:
    """The Dockerfile: slim Python of the venv's version, the pinned test packages, the snapshot at /repo."""
    return "\n".join([
        f"FROM python:{python_version}-slim",
        "ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1",
        "COPY requirements.txt /tmp/agentgym-requirements.txt",
        "RUN pip install -r /tmp/agentgym-requirements.txt && rm /tmp/agentgym-requirements.txt",
        f"COPY repo/ {REPO_IN_IMAGE}/",
        f"RUN chmod -R a+rX {REPO_IN_IMAGE}",
        "",
    ])  # fmt: skip


def image_tag(name: str, dockerfile_text: str, requirements: list[str], repo_sha256: str) -> str:
    """``agentgym-code-repair/NAME:HASH16``, HASH over the build inputs."""
    digest = hashlib.sha256(json.dumps([dockerfile_text, requirements, repo_sha256]).encode()).hexdigest()
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._") or "repo"
    return f"{IMAGE_REPOSITORY}/{slug[:64]}:{digest[:16]}"


def _has_image(client: Any, tag: str) -> bool:
    try:
        client.images.get(tag)
    except Exception as e:  # docker.errors.ImageNotFound, matched by name so that fakes need not import docker
        if type(e).__name__ in ("ImageNotFound", "NotFound"):
            return False
        raise
    return True


def write_context(folder: Path, snapshot: Path, dockerfile_text: str, requirements: list[str]) -> None:
    """The build context: Dockerfile, requirements.txt and repo/ (the snapshot's files, caches left out)."""
    (folder / "Dockerfile").write_text(dockerfile_text)
    (folder / "requirements.txt").write_text("\n".join(requirements) + "\n")
    for rel in iter_files(snapshot):
        source, target = snapshot / rel, folder / "repo" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)


def ensure_image(client: Any, snapshot: Path, *, venv: str | None, repo_sha256: str) -> tuple[str, bool]:
    """(tag, was_built): the repository's image, built through the docker SDK unless one with its tag exists.

    Raises:
        ValueError: `venv` is not a prepared test env (no pytest in it).
    """
    requirements = venv_requirements(venv)
    text = dockerfile(venv_python_version(venv))
    tag = image_tag(snapshot.name, text, requirements, repo_sha256)
    if _has_image(client, tag):
        return tag, False
    with tempfile.TemporaryDirectory(prefix="agentgym-image-") as tmp:
        write_context(Path(tmp), snapshot, text, requirements)
        client.images.build(path=tmp, tag=tag, rm=True, forcerm=True,
                            labels={LABEL: "1", f"{LABEL}.repo_sha256": repo_sha256})  # fmt: skip
    return tag, True
