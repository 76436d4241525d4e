"""Source projects: a pinned default list of small, well-tested pure-Python projects, and parsing `--project`.

The defaults come from `reference/code_projects.md` (sdists checked to ship their tests, which pass offline in a
network namespace with nothing but pytest installed, in about a second).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True, kw_only=True, slots=True)
class ProjectSpec:
    """One source project.

    Attributes:
        name: the PyPI name (or a label for a local project).
        version: the pinned version ("" for a local project).
        path: a local folder to use instead of a PyPI sdist.
        test_deps: extra packages installed into the test venv next to pytest.
        test_args: extra pytest arguments (deselects of environment-dependent tests, `-o addopts=` ...).
        pythonpath: repository folders put on PYTHONPATH; None: "src" when the project has one, else nothing.
    """

    name: str
    version: str = ""
    path: str | None = None
    test_deps: tuple[str, ...] = ()
    test_args: tuple[str, ...] = ()
    pythonpath: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            raise ValueError(f"name must be a project name like 'isodate', got {self.name!r}")
        if self.path is None and not self.version:
            raise ValueError(f"version must be pinned for the PyPI project {self.name!r} (use NAME==VERSION)")
        if isinstance(self.test_deps, str) or isinstance(self.test_args, str):
            raise ValueError("test_deps and test_args must be sequences of strings, not one string")

    @property
    def label(self) -> str:
        return f"{self.name}=={self.version}" if self.version else self.name


DEFAULT_PROJECTS: tuple[ProjectSpec, ...] = (
    ProjectSpec(name="isodate", version="0.7.2"),
    ProjectSpec(name="cachetools", version="8.0.1"),
    ProjectSpec(name="toolz", version="1.2.0"),
    ProjectSpec(name="voluptuous", version="0.16.0"),
    ProjectSpec(name="h11", version="0.16.0"),
    ProjectSpec(name="sqlparse", version="0.6.1"),
    ProjectSpec(name="tabulate", version="0.10.0"),
    ProjectSpec(name="uritemplate", version="4.2.0"),
    ProjectSpec(name="hyperframe", version="6.1.0"),
    ProjectSpec(name="inflection", version="0.5.1"),
)
"""Ten projects; suites of 58-537 tests that each run in about a second, no test dependencies beyond pytest."""


def resolve_project(text: str, *, test_deps: tuple[str, ...] = ()) -> ProjectSpec:
    """`NAME==VERSION`, a bare `NAME` from the default list, or a path to a local project folder.

    Raises:
        ValueError: a bare name that is not in the default list (say which version to use).
    """
    if "/" in text or text.startswith(".") or Path(text).is_dir():
        folder = Path(text).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(f"project path {text!r} is not a folder")
        name = re.sub(r"[^A-Za-z0-9._-]", "-", folder.name) or "project"
        return ProjectSpec(name=name, path=str(folder), test_deps=test_deps)
    name, _, version = text.partition("==")
    for spec in DEFAULT_PROJECTS:
        if spec.name.lower() == name.lower() and (not version or version == spec.version):
            return spec if not test_deps else ProjectSpec(**{**_fields(spec), "test_deps": spec.test_deps + test_deps})
    if not version:
        known = ", ".join(s.label for s in DEFAULT_PROJECTS)
        raise ValueError(f"project {text!r} is not in the default list ({known}); pin a version: {text}==X.Y")
    return ProjectSpec(name=name, version=version, test_deps=test_deps)


def _fields(spec: ProjectSpec) -> dict:
    return {f.name: getattr(spec, f.name) for f in fields(spec)}
