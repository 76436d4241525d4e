"""One Docker image per repository for the docker backend: the offline base image + the test env + the snapshot.

Built from local files only (no registry, no network): ``FROM`` the base image of `DockerSandbox`
(`agentgym.sandbox.docker_image.build_base_image`: Debian python3 + pytest), the task's prepared venv's
``site-packages`` copied to ``/usr/local/lib/python3.N/dist-packages`` (ahead of Debian's own packages on ``sys.path``;
the venv must be of the base image's Python version), and the repository snapshot copied read-only to ``/repo``. No
``RUN`` step, so the build starts no container. A task without a venv uses the base image's pytest.
The tag is a hash of everything that goes into the build (base image id, Dockerfile, requirements, snapshot hash), so
an image that exists is reused as is, and any change to the base, the env or the snapshot gives a new tag. An episode
starts by copying ``/repo`` into the container's tmpfs working directory in one command (no per-file writes).

Example tag: ``agentgym-code-repair/isodate-0.7.2:3f2a9c01b7de4d15``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from agentgym.envs.code_repair.snapshot import iter_files
from agentgym.sandbox.docker_image import BASE_IMAGE, base_python_version

REPO_IN_IMAGE = "/repo"
IMAGE_REPOSITORY = "agentgym-code-repair"
LABEL = "agentgym.code_repair"
SKIPPED_PACKAGES = frozenset({"pip", "setuptools", "wheel", "distribute"})


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def venv_requirements(venv: str | Path | None) -> list[str]:
    """``name==version`` for every package in the venv's site-packages (pip and setuptools left out), sorted; [] for
    no venv (the base image's pytest runs the tests)."""
    if venv is None:
        return []
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


def site_packages(venv: str | Path) -> Path:
    """The venv's ``lib/python3.N/site-packages`` folder."""
    found = sorted(Path(venv).glob("lib/python*/site-packages"))
    if not found:
        raise ValueError(f"the venv {venv} has no lib/python*/site-packages")
    return found[0]


def dockerfile(base_image: str, python_version: str, *, has_venv: bool) -> str:
    """The Dockerfile: the base image, the venv's packages (if any) on the system path, the snapshot at /repo."""
    lines = [f"FROM {base_image}"]
    if has_venv:
        lines.append(f"COPY site-packages/ /usr/local/lib/python{python_version}/dist-packages/")
    lines += [f"COPY repo/ {REPO_IN_IMAGE}/", ""]
    return "\n".join(lines)


def image_tag(name: str, dockerfile_text: str, requirements: list[str], repo_sha256: str, base_id: str = "") -> str:
    """``agentgym-code-repair/NAME:HASH16``, HASH over the build inputs (the base image's id among them)."""
    digest = hashlib.sha256(json.dumps([dockerfile_text, requirements, repo_sha256, base_id]).encode()).hexdigest()
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


def _copy_tree(source: Path, target: Path, files: list[str]) -> None:
    """Copy `files` (relative paths) from `source` to `target`, readable by every uid (the sandbox runs as 10001)."""
    for rel in files:
        src, dst = source / rel, target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(src.readlink())
        else:
            shutil.copy2(src, dst)
            os.chmod(dst, (src.stat().st_mode & 0o777) | 0o444)
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o755)
    for folder, dirs, _ in os.walk(target):
        for d in dirs:
            os.chmod(os.path.join(folder, d), 0o755)


def write_context(folder: Path, snapshot: Path, dockerfile_text: str, requirements: list[str],
                  venv: Path | None = None) -> None:  # fmt: skip
    """The build context: Dockerfile, requirements.txt (a record), the venv's site-packages/, repo/ (no caches)."""
    (folder / "Dockerfile").write_text(dockerfile_text)
    (folder / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    if venv is not None:
        packages = site_packages(venv)
        rels = [p.relative_to(packages).as_posix() for p in sorted(packages.rglob("*"))
                if (p.is_file() or p.is_symlink()) and "__pycache__" not in p.parts]  # fmt: skip
        _copy_tree(packages, folder / "site-packages", rels)
    _copy_tree(snapshot, folder / "repo", list(iter_files(snapshot)))


def ensure_image(client: Any, snapshot: Path, *, venv: str | None, repo_sha256: str,
                 base_image: str = BASE_IMAGE) -> tuple[str, bool]:  # fmt: skip
    """(tag, was_built): the repository's image, built through the docker SDK unless one with its tag exists.

    Raises:
        ValueError: `venv` is not a prepared test env (no pytest in it), or its Python is not the base image's.
        BaseImageError: the base image is missing (the message names the command that builds it).
    """
    python_version = base_python_version(client, base_image)
    requirements = venv_requirements(venv)
    if venv is not None and venv_python_version(venv) != python_version:
        raise ValueError(f"the venv {venv} is Python {venv_python_version(venv)} but the base image {base_image} has "
                         f"Python {python_version}: prepare the venv with python{python_version}")  # fmt: skip
    text = dockerfile(base_image, python_version, has_venv=venv is not None)
    tag = image_tag(snapshot.name, text, requirements, repo_sha256, client.images.get(base_image).id)
    if _has_image(client, tag):
        return tag, False
    with tempfile.TemporaryDirectory(prefix="agentgym-image-") as tmp:
        write_context(Path(tmp), snapshot, text, requirements, Path(venv) if venv is not None else None)
        client.images.build(path=tmp, tag=tag, rm=True, forcerm=True, network_mode="none",
                            labels={LABEL: "1", f"{LABEL}.repo_sha256": repo_sha256})  # fmt: skip
    return tag, True
