"""`load_docker`: the docker SDK, imported on demand, or an error that names the pip command.

Its own module so that `docker` (the sandbox) and `docker_image` (the offline base image) both use it without
importing each other.
"""

from __future__ import annotations

from typing import Any

from agentgym.sandbox.errors import SandboxDependencyMissing

INSTALL_DOCKER = "pip install 'agentgym-rl[docker]'"


def load_docker() -> Any:
    """The docker SDK module, or `SandboxDependencyMissing` whose message ends with the pip command."""
    try:
        import docker
    except ImportError as e:
        raise SandboxDependencyMissing(
            f"DockerSandbox needs the docker SDK, which is not installed: {INSTALL_DOCKER}"
        ) from e
    return docker
