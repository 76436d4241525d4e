"""Every exception agentgym raises on purpose, in one place; the not-found family shares one base."""

from __future__ import annotations


class AgentGymError(Exception):
    """Base class: anything agentgym raises deliberately. The CLI prints these without a traceback."""


class UnregisteredEnv(AgentGymError, KeyError):
    """An env name that is not registered (with suggestions in the message)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class RegistrationError(AgentGymError, ValueError):
    """A registration that cannot be accepted: duplicate name, malformed entry point."""


class PluginLoadError(AgentGymError, ImportError):
    """A plugin's module or attribute could not be loaded; the message names the plugin, its entry point and the fix."""


class EnvConstructionError(AgentGymError, TypeError):
    """The env's constructor rejected the config; the message names the env, entry point and kwargs."""


class DependencyNotInstalled(AgentGymError, ImportError):
    """An optional dependency is missing; the message is the exact install command."""


class ResetNeeded(AgentGymError, RuntimeError):
    """`step` was called before `reset` or after the episode ended."""


class ContractViolation(AgentGymError, AssertionError):
    """An env broke the env contract (found by `agentgym envs check`)."""


class TaskFileError(AgentGymError, ValueError):
    """A task file could not be read: the message names the file, the line and what is wrong."""


class PolicySpecError(AgentGymError, ValueError):
    """A `--policy` string that does not parse; the message shows the accepted forms."""


def require(module: str, extra: str, feature: str):
    """Import an optional dependency or raise `DependencyNotInstalled` with the pip command that fixes it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise DependencyNotInstalled(
            f"{feature} needs the Python package '{module}', which is not installed. "
            f"Install it with: pip install 'agentgym-rl[{extra}]'"
        ) from e
