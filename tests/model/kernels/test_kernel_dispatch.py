"""The dispatcher: automatic choice by capability, forcing by name, and its error messages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from agentgym.model.kernels import (
    KernelPathError,
    TritonNotInstalled,
    dispatch,
    grpo_loss,
    linear_logprob,
    mla_decode,
    resolve_path,
)

CPU = torch.device("cpu")
CUDA_MESSAGE = (r"^the triton path of {kernel} needs CUDA tensors, got cpu tensors; for the CPU interpreter set "
                r"TRITON_INTERPRET=1 before triton and the kernels are first imported$")
INSTALL_MESSAGE = (r"^the triton kernel path needs the `triton` package; install it with: "
                   r"pip install 'agentgym-rl\[triton\]'$")
TRITON_KERNELS = [name for name, paths in dispatch.KERNEL_PATHS.items() if "triton" in paths]


def test_cpu_tensors_pick_the_cpu_path():
    for kernel in dispatch.KERNEL_PATHS:
        assert resolve_path(kernel, None, CPU) == "cpu"


def test_cuda_tensors_pick_triton_when_installed(monkeypatch):
    monkeypatch.setattr(dispatch, "is_triton_installed", lambda: True)
    assert resolve_path("linear_logprob", None, torch.device("cuda")) == "triton"
    assert resolve_path("moe_swiglu", None, torch.device("cuda")) == "cpu"  # no Triton MoE kernel
    monkeypatch.setattr(dispatch, "is_triton_installed", lambda: False)
    assert resolve_path("mla_decode", None, torch.device("cuda")) == "cpu"


def test_unknown_path_names_the_choices_and_the_closest_one():
    with pytest.raises(KernelPathError, match=r"^unknown kernel path 'tirton' for linear_logprob; choose one of "
                                              r"\('ref', 'cpu', 'triton'\)\. Did you mean 'triton'\?$"):
        resolve_path("linear_logprob", "tirton", CPU)


def test_kernel_without_that_path():
    with pytest.raises(KernelPathError, match=r"^moe_swiglu has no 'triton' path; available paths: \('ref', 'cpu'\)$"):
        resolve_path("moe_swiglu", "triton", CPU)


@pytest.mark.parametrize("kernel", TRITON_KERNELS)
def test_triton_on_cpu_without_interpreter_is_refused(monkeypatch, kernel):
    monkeypatch.setattr(dispatch, "is_triton_installed", lambda: True)
    monkeypatch.setattr(dispatch, "is_interpreter_enabled", lambda kernel: False)
    with pytest.raises(KernelPathError, match=CUDA_MESSAGE.format(kernel=kernel)):
        resolve_path(kernel, "triton", CPU)
    assert resolve_path(kernel, None, CPU) == "cpu"


@pytest.mark.parametrize("interpreting", [False, True])
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_missing_triton_gives_the_install_command(monkeypatch, interpreting, device):
    """Whatever the device and interpreter setting, a missing package is reported first, with the pip command."""
    monkeypatch.setattr(dispatch, "is_triton_installed", lambda: False)
    monkeypatch.setattr(dispatch, "is_interpreter_enabled", lambda kernel: interpreting)
    with pytest.raises(TritonNotInstalled, match=INSTALL_MESSAGE):
        resolve_path("linear_logprob", "triton", torch.device(device))
    assert resolve_path("linear_logprob", None, torch.device(device)) == "cpu"


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("ON", True), ("yes", True),
                                                 ("0", False), ("", False), ("2", False)])
def test_interpreter_flag_reads_the_variable_as_triton_does(monkeypatch, value, expected):
    """Before triton and our kernel module are imported, the variable decides, read as triton's getenv_bool reads it."""
    monkeypatch.delitem(sys.modules, "triton.language.standard", raising=False)
    monkeypatch.delitem(sys.modules, "agentgym.model.kernels.triton.grpo", raising=False)
    monkeypatch.setenv("TRITON_INTERPRET", value)
    assert dispatch.is_interpreter_enabled("grpo_loss") is expected


def test_interpreter_needs_the_variable_and_interpreted_kernels(monkeypatch, triton_interpreter):
    """Kernels decorated for the interpreter still need the variable at launch; compiled ones never interpret."""
    from agentgym.model.kernels.triton import logprob

    interpreted = type(logprob.linear_logprob_fwd_kernel).__name__ == "InterpretedFunction"
    if not torch.cuda.is_available():
        assert interpreted  # conftest set TRITON_INTERPRET=1 before triton was imported
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert dispatch.is_interpreter_enabled("linear_logprob") is interpreted
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert dispatch.is_interpreter_enabled("linear_logprob") is False
    if not torch.cuda.is_available():  # refused with the dispatcher's message, not an error from inside triton
        with pytest.raises(KernelPathError, match=CUDA_MESSAGE.format(kernel="linear_logprob")):
            linear_logprob(torch.randn(3, 4), torch.randn(5, 4), torch.tensor([0, 1, 4]), path="triton")


def test_default_path_on_cpu_never_runs_a_triton_kernel(monkeypatch):
    """With triton installed and the interpreter on, CPU tensors still take the cpu path for every kernel."""

    def refuse(name):
        raise AssertionError(f"the triton module {name!r} was loaded for cpu tensors")

    monkeypatch.setattr(dispatch, "is_triton_installed", lambda: True)
    monkeypatch.setattr(dispatch, "is_interpreter_enabled", lambda kernel: True)
    monkeypatch.setattr(dispatch, "_triton_module", refuse)
    gen = torch.Generator().manual_seed(0)
    hidden, weight = torch.randn(4, 3, generator=gen), torch.randn(6, 3, generator=gen)
    targets = torch.tensor([0, 5, 2, 1])
    lp, _ = linear_logprob(hidden, weight, targets)
    torch.testing.assert_close(lp, linear_logprob(hidden, weight, targets, path="cpu")[0], atol=0, rtol=0)
    old, adv, mask = lp.view(2, 2) + 0.1, torch.tensor([1.0, -1.0]), torch.ones(2, 2)
    out = grpo_loss(lp.view(2, 2), old, adv, mask)
    torch.testing.assert_close(out.loss, grpo_loss(lp.view(2, 2), old, adv, mask, path="cpu").loss, atol=0, rtol=0)
    q, q_pe = torch.randn(2, 2, 3, generator=gen), torch.randn(2, 2, 2, generator=gen)
    kv, pe, lens = torch.randn(2, 4, 3, generator=gen), torch.randn(2, 4, 2, generator=gen), torch.tensor([4, 2])
    got = mla_decode(q, q_pe, kv, pe, lens, scale=0.5)
    want = mla_decode(q, q_pe, kv, pe, lens, scale=0.5, path="cpu")
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK the triton kernel path needs the `triton` package; install it with: "
                                    "pip install 'agentgym-rl[triton]'")


def test_fresh_process_without_the_interpreter():
    """No TRITON_INTERPRET, no CUDA: importing and the default path never import triton; forcing triton is refused,
    also after a late ``TRITON_INTERPRET=1`` once triton was imported for the compiler (it could not interpret)."""
    code = (
        "import os, sys, torch\n"
        "from agentgym.model.kernels import KernelPathError, linear_logprob, resolve_path\n"
        "print('imported triton:', 'triton' in sys.modules)\n"
        "args = (torch.randn(3, 4), torch.randn(5, 4), torch.tensor([0, 1, 4]))\n"
        "print('default:', resolve_path('linear_logprob', None, torch.device('cpu')), linear_logprob(*args)[0].shape)\n"
        "for late in (False, True):\n"
        "    if late:\n"
        "        import triton\n"
        "        os.environ['TRITON_INTERPRET'] = '1'\n"
        "    try:\n"
        "        linear_logprob(*args, path='triton')\n"
        "    except KernelPathError as e:\n"
        "        print('refused:', e)\n"
        "    print('imported triton:', 'triton' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "CUDA_VISIBLE_DEVICES")}
    env["CUDA_VISIBLE_DEVICES"] = ""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                            check=False)
    assert result.returncode == 0, result.stderr
    refusal = ("refused: the triton path of linear_logprob needs CUDA tensors, got cpu tensors; for the CPU "
               "interpreter set TRITON_INTERPRET=1 before triton and the kernels are first imported")
    assert result.stdout.splitlines() == [
        "imported triton: False", "default: cpu torch.Size([3])", refusal, "imported triton: False", refusal,
        "imported triton: True",
    ]
