"""Real-engine Docker fixtures: skip with the reason when no engine answers; build the offline base image once.

Import the fixtures into a test module (``from docker_support import docker_base_image, docker_client``); CI starts
the engine with ``scripts/docker_engine.sh start`` (see ``.ci/run``).
"""

from __future__ import annotations

import functools

import pytest

from agentgym.sandbox.docker import load_docker
from agentgym.sandbox.docker_image import BASE_IMAGE, BaseImageError, build_base_image


@functools.cache
def engine_problem() -> str | None:
    """Why no Docker engine can be used here (None when one answers)."""
    try:
        load_docker().from_env().ping()
    except Exception as e:  # noqa: BLE001 - any failure means "no engine here"
        return (f"no Docker engine answers ({type(e).__name__}: {e}); "
                "start one with `bash scripts/docker_engine.sh start` (root, apt)")  # fmt: skip
    return None


@pytest.fixture(scope="session")
def docker_client():
    """A docker SDK client of the local engine (the test skips, with the reason, when none answers)."""
    problem = engine_problem()
    if problem is not None:
        pytest.skip(problem)
    return load_docker().from_env()


@pytest.fixture(scope="session")
def docker_base_image(docker_client) -> str:
    """The offline base image's name, built first if missing (debootstrap ~1 min, then cached)."""
    try:
        build_base_image(BASE_IMAGE, client=docker_client, progress=lambda line: None)
    except BaseImageError as e:
        pytest.skip(f"the Docker base image cannot be built here: {e}")
    return BASE_IMAGE


def containers_left(client, container_id: str) -> list:
    """Containers with this id that still exist (an empty list after `close`)."""
    return client.containers.list(all=True, filters={"id": container_id})
