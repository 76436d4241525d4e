"""The dispatcher: automatic choice by capability, forcing by name, and its error messages."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from agentgym.model.kernels import KernelPathError, TritonNotInstalled, registry, resolve_path

CPU = torch.device("cpu")


def test_cpu_tensors_pick_the_cpu_path():
    for kernel in registry.KERNEL_PATHS:
        assert resolve_path(kernel, None, CPU) == "cpu"


def test_cuda_tensors_pick_triton_when_installed(monkeypatch):
    monkeypatch.setattr(registry, "is_triton_installed", lambda: True)
    assert resolve_path("linear_logprob", None, torch.device("cuda")) == "triton"
    assert resolve_path("moe_swiglu", None, torch.device("cuda")) == "cpu"  # no Triton MoE kernel
    monkeypatch.setattr(registry, "is_triton_installed", lambda: False)
    assert resolve_path("mla_decode", None, torch.device("cuda")) == "cpu"


def test_unknown_path_names_the_choices_and_the_closest_one():
    with pytest.raises(KernelPathError, match=r"^unknown kernel path 'tirton' for linear_logprob; choose one of "
                                              r"\('ref', 'cpu', 'triton'\)\. Did you mean 'triton'\?$"):
        resolve_path("linear_logprob", "tirton", CPU)


def test_kernel_without_that_path():
    with pytest.raises(KernelPathError, match=r"^moe_swiglu has no 'triton' path; available paths: \('ref', 'cpu'\)$"):
        resolve_path("moe_swiglu", "triton", CPU)


def test_triton_on_cpu_without_interpreter_is_refused(monkeypatch):
    monkeypatch.setattr(registry, "is_triton_installed", lambda: True)
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(KernelPathError, match="needs CUDA tensors, got cpu tensors; .*TRITON_INTERPRET=1"):
        resolve_path("grpo_loss", "triton", CPU)


def test_missing_triton_gives_the_install_command(monkeypatch):
    monkeypatch.setattr(registry, "is_triton_installed", lambda: False)
    with pytest.raises(TritonNotInstalled, match=r"pip install 'agentgym\[triton\]'$"):
        resolve_path("linear_logprob", "triton", CPU)


def test_package_imports_and_runs_without_triton():
    """With ``import triton`` made impossible, the package imports and the cpu path runs; forcing triton explains."""
    code = (
        "import sys; sys.modules['triton'] = None\n"
        "import importlib.util; importlib.util.find_spec = (lambda f: (lambda n, *a: None if n == 'triton' "
        "else f(n, *a)))(importlib.util.find_spec)\n"
        "import torch\n"
        "from agentgym.model.kernels import linear_logprob, TritonNotInstalled\n"
        "lp, _ = linear_logprob(torch.randn(3, 4), torch.randn(5, 4), torch.tensor([0, 1, 2]))\n"
        "assert lp.shape == (3,)\n"
        "try:\n"
        "    linear_logprob(torch.randn(3, 4), torch.randn(5, 4), torch.tensor([0, 1, 2]), path='triton')\n"
        "except TritonNotInstalled as e:\n"
        "    print('OK', e)\n"
        "assert 'triton' not in [m for m in sys.modules if sys.modules[m] is not None and m == 'triton']\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK the triton kernel path needs the `triton` package; install it with: "
                                    "pip install 'agentgym[triton]'")


def test_importing_the_package_does_not_import_triton():
    code = "import sys, agentgym.model.kernels; print('triton' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
