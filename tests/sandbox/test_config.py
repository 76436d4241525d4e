"""SandboxLimits / SandboxConfig validation: every bad value raises ValueError naming its field."""

from __future__ import annotations

import dataclasses

import pytest

from agentgym.sandbox import SandboxConfig, SandboxLimits


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": float("inf")}, "timeout_s"),
        ({"cpu_time_s": -1}, "cpu_time_s"),
        ({"memory_bytes": 1.5}, "memory_bytes"),
        ({"memory_bytes": 1024}, "memory_bytes"),
        ({"max_processes": 0}, "max_processes"),
        ({"max_open_files": 3}, "max_open_files"),
        ({"max_file_size_bytes": True}, "max_file_size_bytes"),
        ({"max_output_bytes": 10}, "max_output_bytes"),
        ({"tmp_size_bytes": "big"}, "tmp_size_bytes"),
    ],
)
def test_limits_reject_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field} "):
        SandboxLimits(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"isolation": "chroot"}, "isolation"),
        ({"ro_binds": ("relative/path",)}, "ro_binds"),
        ({"rw_binds": "/abs"}, "rw_binds"),
        ({"env": {"A=B": "x"}}, "env"),
        ({"python_executable": "python3"}, "python_executable"),
        ({"workdir_root": "tmp"}, "workdir_root"),
        ({"uid_range": (5, 1)}, "uid_range"),
        ({"limits": {"timeout_s": 1}}, "limits"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"^{field} "):
        SandboxConfig(**kwargs)


def test_defaults_are_safe_and_keyword_only():
    config = SandboxConfig()
    assert config.network is False and config.isolation == "auto"
    assert config.limits.memory_bytes and config.limits.max_processes and config.limits.max_file_size_bytes
    with pytest.raises(TypeError):
        SandboxLimits(5)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.network = True  # type: ignore[misc]


def test_binds_are_normalized_to_pairs():
    config = SandboxConfig(ro_binds=("/usr/lib/",), rw_binds=(("/srv/data", "/data"),))
    assert config.ro_binds == (("/usr/lib", "/usr/lib"),)
    assert config.rw_binds == (("/srv/data", "/data"),)


def test_cpu_time_defaults_to_the_timeout_rounded_up():
    assert SandboxLimits(timeout_s=2.2).effective_cpu_time_s == 3
    assert SandboxLimits(timeout_s=30, cpu_time_s=1).effective_cpu_time_s == 1
