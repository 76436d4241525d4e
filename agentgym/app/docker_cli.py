"""`agentgym docker build-base`: the offline base image every DockerSandbox and code_repair per-repo image builds on."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from agentgym.app.console import console, friendly

docker_app = typer.Typer(help="Local Docker images for the Docker sandbox (built offline).", no_args_is_help=True)


@docker_app.command("build-base")
@friendly
def build_base(
    rootfs: Optional[Path] = typer.Option(None, "--rootfs", help="a rootfs tarball to import instead of debootstrap"),
    name: Optional[str] = typer.Option(None, "--name", help="image name (default: the sandbox's base image)"),
) -> None:
    """Build (or confirm) the base image: Debian minbase + python3 + pytest via debootstrap, or your rootfs tarball.

    Idempotent: an image with the same recipe label is kept. Needs a running engine (`bash scripts/docker_engine.sh
    start` as root) and the docker extra (`pip install 'agentgym-rl[docker]'`).
    """
    from agentgym.sandbox.docker_image import BASE_IMAGE, build_base_image

    report = build_base_image(name or BASE_IMAGE, rootfs_tar=rootfs)
    console.print(report.summary(), highlight=False)
