"""Row offsets in the Triton kernels are int64: checked at offsets past 2³¹, where int32 math wraps."""

from __future__ import annotations

import importlib
import inspect

import pytest
import torch

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")

triton = pytest.importorskip("triton", reason="the Triton path tests need `pip install 'agentgym-rl[triton]'`")
tl = pytest.importorskip("triton.language")
int64_rows = None  # bound in _probe_kernels

pytestmark = pytest.mark.usefixtures("triton_interpreter")

BLOCK, STRIDE = 16, 49152
BASE_BLOCK = (2**31 // (BLOCK * STRIDE)) + 7  # row·stride of every probed row is past 2³¹


def _probe(out_ptr, base_block, stride, BLOCK: tl.constexpr):
    rows = int64_rows(base_block + tl.program_id(0), BLOCK)
    tl.store(out_ptr + tl.arange(0, BLOCK), rows * stride)


def _int32_probe(out_ptr, base_block, stride, BLOCK: tl.constexpr):
    rows = (base_block + tl.program_id(0)) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + tl.arange(0, BLOCK), (rows * stride).to(tl.int64))


def _probe_kernels():
    """Decorate the probes with the kernels' own helper in scope (the probe calls it as a kernel would)."""
    global int64_rows
    from agentgym.model.kernels.triton.common import int64_rows

    return triton.jit(_probe), triton.jit(_int32_probe)


def test_row_offsets_are_exact_past_two_to_the_31():
    probe, int32_probe = _probe_kernels()
    want = torch.tensor([(BASE_BLOCK * BLOCK + i) * STRIDE for i in range(BLOCK)], dtype=torch.int64)
    assert int(want[0]) > 2**31
    out = torch.zeros(BLOCK, dtype=torch.int64, device=DEVICE)
    probe[(1,)](out, BASE_BLOCK, STRIDE, BLOCK=BLOCK)
    assert torch.equal(out.cpu(), want)
    # The control shows this check has teeth: the same arithmetic in int32 wraps under the interpreter,
    # as it does on a GPU once N·V > 2³¹.
    wrapped = torch.zeros(BLOCK, dtype=torch.int64, device=DEVICE)
    int32_probe[(1,)](wrapped, BASE_BLOCK, STRIDE, BLOCK=BLOCK)
    assert not torch.equal(wrapped.cpu(), want)


@pytest.mark.parametrize("module", ["logprob", "grpo", "mla"])
def test_every_kernel_takes_program_ids_through_int64(module):
    """A kernel that multiplies a raw ``tl.program_id`` by a stride would overflow; each use must widen first."""
    mod = importlib.import_module(f"agentgym.model.kernels.triton.{module}")
    kernels = [obj for name, obj in vars(mod).items() if name.endswith("_kernel")]
    assert kernels, f"no *_kernel in {module}"
    for kernel in kernels:
        source = inspect.getsource(kernel.fn)
        uses = [line for line in source.splitlines() if "tl.program_id" in line]
        assert uses, f"{kernel.fn.__name__} never reads tl.program_id"
        for line in uses:
            assert "int64_rows(" in line or ".to(tl.int64)" in line, f"{kernel.fn.__name__}: {line.strip()}"
