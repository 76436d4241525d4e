"""The env registry: `register`, `make`, `list_envs`, and plugin discovery through the `agentgym.envs` entry points.

Plugins are discovered on the first `make`/`list_envs`, never on `import agentgym`. A broken plugin is listed with its
error and does not hide the others. Built-in envs register through the same entry points as third-party ones.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from agentgym.errors import EnvConstructionError, PluginLoadError, RegistrationError, UnregisteredEnv

ENTRY_POINT_GROUP = "agentgym.envs"
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_ENTRY_POINT_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True, kw_only=True, slots=True)
class EnvSpec:
    """How to build one env.

    Attributes:
        name: the registered name, e.g. ``"arith"``.
        entry_point: ``"package.module:Attribute"`` or a callable returning an env.
        defaults: keyword arguments passed to the constructor unless `make` overrides them.
        source: where the registration came from: ``"register()"`` or ``"plugin <distribution> <version>"``.
        error: why this spec cannot be built (a conflict found during discovery), or None.
    """

    name: str
    entry_point: str | Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    source: str = "register()"
    error: str | None = None

    @property
    def entry_point_str(self) -> str:
        ep = self.entry_point
        return ep if isinstance(ep, str) else f"{getattr(ep, '__module__', '?')}:{getattr(ep, '__qualname__', ep)}"


class Registry:
    """A name → `EnvSpec` table with lazy plugin discovery. `agentgym.registry.default` is the process-wide one."""

    def __init__(self, *, group: str = ENTRY_POINT_GROUP) -> None:
        self.group = group
        self.specs: dict[str, EnvSpec] = {}
        self.is_discovered = False

    # --- registration -------------------------------------------------------------------------------------------
    def register(
        self, name: str, entry_point: str | Callable[..., Any], *, source: str = "register()", **defaults: Any
    ) -> EnvSpec:
        """Register an env under `name`.

        Raises:
            RegistrationError: the name or entry point is malformed, or `name` is already registered (the message
                names both entry points).
        """
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise RegistrationError(
                f"invalid env name {name!r}: use letters, digits, '_', '.', '-', starting with a letter"
            )
        if isinstance(entry_point, str):
            if not _ENTRY_POINT_RE.match(entry_point):
                raise RegistrationError(
                    f"env {name!r}: invalid entry point {entry_point!r}; expected 'package.module:Attribute', "
                    f"e.g. 'my_plugin.env:MyEnv'"
                )
        elif not callable(entry_point):
            raise RegistrationError(
                f"env {name!r}: entry point must be a 'module:Attribute' string or a callable, got "
                f"{type(entry_point).__name__}"
            )
        spec = EnvSpec(name=name, entry_point=entry_point, defaults=dict(defaults), source=source)
        if source == "register()":
            self._discover()  # a duplicate of an installed plugin is caught now, not on first make()
        existing = self.specs.get(name)
        if existing is not None:
            same = (existing.entry_point_str, existing.source, existing.defaults)
            if same == (spec.entry_point_str, source, spec.defaults):
                return existing  # the same registration twice (e.g. a module imported twice) is harmless
            raise RegistrationError(
                f"env {name!r} is registered twice: {existing.entry_point_str} (from {existing.source}) and "
                f"{spec.entry_point_str} (from {source}). Rename one of them, or uninstall the plugin you do not want "
                f"(`pip uninstall <distribution>`)."
            )
        self.specs[name] = spec
        return spec

    def unregister(self, name: str) -> None:
        """Remove `name` (tests and interactive use)."""
        self.specs.pop(name, None)

    # --- discovery ----------------------------------------------------------------------------------------------
    def _discover(self) -> None:
        if self.is_discovered:
            return
        self.is_discovered = True
        seen: dict[str, tuple[str, str]] = {}  # name -> (value, source)
        for ep in _entry_points(self.group):
            dist = getattr(ep, "dist", None)
            source = f"plugin {dist.name} {dist.version}" if dist is not None else "plugin (unknown distribution)"
            prior = seen.get(ep.name)
            if prior is not None:
                if prior[0] == ep.value:
                    continue  # the same distribution seen twice on sys.path
                self.specs[ep.name] = EnvSpec(
                    name=ep.name,
                    entry_point=prior[0],
                    source=prior[1],
                    error=(
                        f"two plugins register env {ep.name!r}: {prior[0]} (from {prior[1]}) and {ep.value} "
                        f"(from {source}). Uninstall one of the two distributions."
                    ),
                )
                continue
            seen[ep.name] = (ep.value, source)
            if ep.name in self.specs:
                old = self.specs[ep.name]
                self.specs[ep.name] = EnvSpec(
                    name=ep.name,
                    entry_point=old.entry_point,
                    defaults=old.defaults,
                    source=old.source,
                    error=(
                        f"env {ep.name!r} is registered twice: {old.entry_point_str} (from {old.source}) and "
                        f"{ep.value} (from {source}). Rename one of them."
                    ),
                )
                continue
            try:
                self.register(ep.name, ep.value, source=source)
            except RegistrationError as e:
                self.specs[ep.name] = EnvSpec(name=ep.name, entry_point=ep.value, source=source, error=str(e))

    # --- lookup and construction --------------------------------------------------------------------------------
    def spec(self, name: str) -> EnvSpec:
        """The spec for `name`, or `UnregisteredEnv` with the closest names and how to list them all."""
        self._discover()
        spec = self.specs.get(name)
        if spec is None:
            close = difflib.get_close_matches(str(name), list(self.specs), n=3, cutoff=0.7)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self.specs)) or "none"
            raise UnregisteredEnv(
                f"no env named {name!r}.{hint} Registered envs: {known}. "
                f"Run `agentgym envs list` to see them with their sources; an env from a plugin needs that plugin "
                f"installed (`pip install <plugin>`)."
            )
        if spec.error is not None:
            raise RegistrationError(spec.error)
        return spec

    def load(self, name: str) -> Callable[..., Any]:
        """Import the env's factory (class or function) without building it."""
        spec = self.spec(name)
        if callable(spec.entry_point):
            return spec.entry_point
        module_name, _, attr_path = spec.entry_point.partition(":")
        where = f"env {name!r} (entry point '{spec.entry_point}', from {spec.source})"
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            missing = e.name or ""
            if missing and module_name != missing and not module_name.startswith(missing + "."):
                raise PluginLoadError(
                    f"{where}: module '{module_name}' needs '{missing}', which is not installed ({e}). Fix: install "
                    f"the plugin's dependencies (e.g. `pip install {missing.split('.')[0]}` or the plugin's extra)."
                ) from e
            raise PluginLoadError(
                f"{where}: module '{module_name}' cannot be imported ({e}). Fix: install the package that provides "
                f"it, or correct the entry point in the plugin's pyproject.toml "
                f"[project.entry-points.\"{self.group}\"]."
            ) from e
        except Exception as e:  # noqa: BLE001 - a plugin's own import error, re-raised with context
            raise PluginLoadError(
                f"{where}: importing module '{module_name}' failed with {type(e).__name__}: {e}. "
                f"Fix the plugin module (the error is inside it)."
            ) from e
        for part in attr_path.split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError as e:
                raise PluginLoadError(
                    f"{where}: module '{module_name}' has no attribute '{attr_path}'. Fix: correct the entry point "
                    f"(expected 'module:ClassName')."
                ) from e
        if not callable(obj):
            raise PluginLoadError(f"{where}: '{attr_path}' is a {type(obj).__name__}, not a class or function.")
        return obj

    def make(self, name: str, **config: Any) -> Any:
        """Build env `name` with its registered defaults overridden by `config`.

        Raises:
            UnregisteredEnv: unknown name (with suggestions).
            PluginLoadError: the plugin's module or attribute cannot be loaded.
            EnvConstructionError: the constructor rejected the config (names the env, entry point and kwargs).
        """
        factory = self.load(name)
        spec = self.specs[name]
        kwargs = {**spec.defaults, **config}
        try:
            env = factory(**kwargs)
        except (TypeError, ValueError) as e:
            raise EnvConstructionError(
                f"env {name!r} (entry point '{spec.entry_point_str}') rejected its config {kwargs!r}: {e}"
            ) from e
        for attr in ("reset", "step", "close", "tools"):
            if not callable(getattr(env, attr, None)):
                raise PluginLoadError(
                    f"env {name!r} (entry point '{spec.entry_point_str}') built a {type(env).__name__} that has no "
                    f"'{attr}' method; an env must implement the agentgym.api.Env protocol."
                )
        return env

    def list_envs(self) -> list[EnvSpec]:
        """Every registered env, sorted by name, broken ones included (their `error` says why)."""
        self._discover()
        return [self.specs[k] for k in sorted(self.specs)]


def _entry_points(group: str) -> list[md.EntryPoint]:
    return list(md.entry_points(group=group))


default = Registry()


def register(name: str, entry_point: str | Callable[..., Any], **defaults: Any) -> EnvSpec:
    """Register an env in the default registry. See `Registry.register`."""
    return default.register(name, entry_point, **defaults)


def make(name: str, **config: Any) -> Any:
    """Build a registered env: ``agentgym.make("arith", max_turns=8)``. See `Registry.make`."""
    return default.make(name, **config)


def list_envs() -> list[EnvSpec]:
    """Every registered env in the default registry. See `Registry.list_envs`."""
    return default.list_envs()
