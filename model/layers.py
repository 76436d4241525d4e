"""Basic layers: RMSNorm, rotary embeddings (interleaved and NeoX, with YaRN), the SwiGLU MLP, and a decode-friendly
linear."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import weakref
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

# The rollout engine (which runs under torch.inference_mode) multiplies a few activation rows by every weight
# matrix. On CPU, oneDNN's fp32 GEMM runs these shapes markedly faster than MKL's sgemm behind F.linear: on the
# SmolLM2-135M matmuls of one forward, 1.3-1.8x less time at 2-16 rows and still ~1.1x at 512 rows (prefill);
# numbers in benchmarks/RESULTS.md, issue 4. Same products summed in a different order (fp32 rounding-level
# differences), so only inference-mode passes take it: training and the trainer's scoring passes keep F.linear.
ONEDNN_MIN_WEIGHT_NUMEL = 1 << 16


def _onednn_agrees(dtype: torch.dtype, tolerance: float) -> bool:
    """Does oneDNN's (packed, for bf16) linear run here and agree with F.linear? False where it is missing."""
    try:
        w, x = torch.randn(64, 32), torch.randn(3, 32)
        weight = w if dtype == torch.float32 else torch.ops.mkldnn._reorder_linear_weight(w.to(dtype), 3)
        out = torch.ops.mkldnn._linear_pointwise(x.to(dtype), weight, None, "none", [], "").float()
        return bool(torch.backends.mkldnn.is_available()) and torch.allclose(out, F.linear(x, w), rtol=tolerance,
                                                                              atol=tolerance)
    except (RuntimeError, AttributeError, NotImplementedError):
        return False


@functools.cache
def _onednn_usable() -> bool:
    """Probed once: oneDNN's fp32 linear."""
    return _onednn_agrees(torch.float32, 1e-4)


@functools.cache
def _onednn_bf16_usable() -> bool:
    """Probed once: bf16 linears (native AVX-512-BF16/AMX, or emulated) for the bf16 packs."""
    return _onednn_usable() and _onednn_agrees(torch.bfloat16, 0.1)


# Weights reordered into oneDNN's blocked layout for the engine's GEMMs (another ~1.4x at 16 rows, since every
# decode step streams all weights from memory); active only inside `PackedWeights.active()`.
_ACTIVE_PACKS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("agentgym_packed_weights", default=None)


def _stamp(weights: tuple[torch.Tensor, ...]) -> tuple[tuple[int, int], ...]:
    """Storage and version of each weight: a packed copy made from weights with another stamp is stale."""
    return tuple((w.data_ptr(), w._version) for w in weights)


def _active_pack(weights: tuple[torch.Tensor, ...]) -> torch.Tensor | None:
    """The active PackedWeights' fresh copy of `weights` (stacked when several), or None."""
    packs = _ACTIVE_PACKS.get()
    entry = packs.get(tuple(id(w) for w in weights)) if packs else None
    return entry[1] if entry is not None and entry[0] == _stamp(weights) else None


def _packed_linear(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    """x times a packed weight; a bf16 pack multiplies a bf16 copy of x (fp32 accumulation) and returns x's dtype."""
    if packed.dtype == x.dtype:
        return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")
    return torch.ops.mkldnn._linear_pointwise(x.to(packed.dtype), packed, None, "none", [], "").to(x.dtype)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """F.linear(x, weight, bias): (..., in) x (out, in) -> (..., out); oneDNN for CPU fp32 inference."""
    if (torch.is_inference_mode_enabled() and x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32
            and weight.numel() >= ONEDNN_MIN_WEIGHT_NUMEL and _onednn_usable()):
        packed = _active_pack((weight,))
        out = _packed_linear(x, weight if packed is None else packed)
        return out if bias is None else out + bias
    return F.linear(x, weight, bias)


def fused_linear(x: torch.Tensor, weights: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...] | None:
    """x times each of `weights` from one GEMM when the active PackedWeights packed them together; else None.

    One call over the stacked weights (e.g. q/k/v, or gate/up) instead of one per weight: fewer, larger GEMMs for
    the engine's decode steps."""
    packed = _active_pack(weights) if torch.is_inference_mode_enabled() else None
    if packed is None:
        return None
    return _packed_linear(x, packed).split([w.shape[0] for w in weights], dim=-1)


class PackedWeights:
    """oneDNN-packed copies of some weights (one extra copy of them in memory), repacked when a weight changes.

    Each item is one weight or a tuple of weights with the same input size, packed stacked for `fused_linear`.
    `dtype=torch.bfloat16` keeps bf16 copies of the fp32 weights (half the memory and half the bytes each decode
    step streams; the activations are rounded to bf16 at each matmul's input, and the products accumulate in fp32):
    mixed precision, as `model.compute_dtype: bfloat16` trains.

    Example:
        packs = PackedWeights([m.weight for m in model.modules() if isinstance(m, Linear)], batch_hint=16)
        with torch.inference_mode(), packs.active():
            model(tokens, ...)
    """

    def __init__(self, weights: list[torch.Tensor | tuple[torch.Tensor, ...]], batch_hint: int,
                 dtype: torch.dtype = torch.float32) -> None:
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"PackedWeights: dtype must be torch.float32 or torch.bfloat16, got {dtype}")
        groups = [w if isinstance(w, tuple) else (w,) for w in weights]
        self.groups = [g for g in groups if all(w.device.type == "cpu" and w.dtype == torch.float32 and w.dim() == 2
                                                for w in g) and len({w.shape[1] for w in g}) == 1
                       and sum(w.numel() for w in g) >= ONEDNN_MIN_WEIGHT_NUMEL]
        if dtype == torch.bfloat16 and not _onednn_bf16_usable():
            dtype = torch.float32  # no bf16 GEMMs in this torch build / on this CPU: pack fp32 (same results)
        self.batch_hint, self.dtype = batch_hint, dtype
        self._packed: dict[tuple[int, ...], tuple[tuple[tuple[int, int], ...], torch.Tensor]] = {}

    @property
    def weights(self) -> list[torch.Tensor]:
        return [w for g in self.groups for w in g]

    def refresh(self) -> None:
        """Repack every group whose storage or version changed since it was packed (e.g. after an update)."""
        if not _onednn_usable():
            return
        with torch.inference_mode():  # largest first: its transient copies come before the other packs exist
            for group in sorted(self.groups, key=lambda g: -sum(w.numel() for w in g)):
                key, stamp = tuple(id(w) for w in group), _stamp(group)
                entry = self._packed.get(key)
                if entry is None or entry[0] != stamp:
                    stacked = group[0].detach() if len(group) == 1 else torch.cat([w.detach() for w in group])
                    stacked = stacked.to(self.dtype)
                    self._packed[key] = (stamp, torch.ops.mkldnn._reorder_linear_weight(stacked, self.batch_hint))

    def release(self) -> int:
        """Free the packed copies of groups with a weight that requires grad (an update will change it); `refresh`
        rebuilds them. Returns the number of bytes freed."""
        freed = 0
        for group in self.groups:
            if not any(w.requires_grad for w in group):
                continue
            entry = self._packed.pop(tuple(id(w) for w in group), None)
            if entry is not None:
                freed += entry[1].numel() * entry[1].element_size()
        return freed

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        token = _ACTIVE_PACKS.set(self._packed)
        try:
            yield
        finally:
            _ACTIVE_PACKS.reset(token)


class Linear(nn.Linear):
    """nn.Linear (no bias unless asked) whose forward is `linear`; same parameters and state-dict names."""

    def __init__(self, in_features: int, out_features: int, bias: bool = False) -> None:
        super().__init__(in_features, out_features, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)


def fusable(*modules: nn.Module) -> bool:
    """Can these projections run as one stacked GEMM? Only plain bias-free `Linear`s: a bias, or a wrapper such as
    a PEFT LoRA layer (whose forward adds the adapter), must run through the module's own forward."""
    return all(type(m) is Linear and m.bias is None for m in modules)


class RMSNorm(nn.Module):
    """Root-mean-square norm with a learned scale, computed in fp32.

    Attributes:
        weight: (dim,) scale, initialised to ones.
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., dim) -> (..., dim) in x's dtype."""
        return F.rms_norm(x.float(), (x.shape[-1],), self.weight.float(), self.eps).to(x.dtype)


def yarn_inv_freq(rope_dim: int, cfg: ModelConfig) -> torch.Tensor:
    """Inverse frequencies (rope_dim/2,) with DeepSeek-V3's YaRN correction when max_seq_len > original_seq_len.

    Frequencies that rotate fast enough within the original context (above `beta_fast` turns) are kept; slow ones
    (below `beta_slow` turns) are divided by `rope_factor`; a linear ramp blends the band between.
    """
    base = cfg.rope_theta
    freqs = 1.0 / (base ** (torch.arange(0, rope_dim, 2, dtype=torch.float64) / rope_dim))
    if cfg.rope_factor == 1.0:
        return freqs.float()
    if cfg.rope_type == "linear":
        return (freqs / cfg.rope_factor).float()
    if cfg.rope_type == "llama3":
        return _llama3_inv_freq(freqs, cfg).float()
    if cfg.max_seq_len <= cfg.original_seq_len:
        return freqs.float()

    def correction_dim(num_rotations: float) -> float:
        return rope_dim * math.log(cfg.original_seq_len / (num_rotations * 2 * math.pi)) / (2 * math.log(base))

    low = max(math.floor(correction_dim(cfg.beta_fast)), 0)
    high = min(math.ceil(correction_dim(cfg.beta_slow)), rope_dim - 1)
    if low == high:
        high += 0.001
    ramp = ((torch.arange(rope_dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
    smooth = 1 - ramp
    return (freqs / cfg.rope_factor * (1 - smooth) + freqs * smooth).float()


def _llama3_inv_freq(freqs: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Llama 3.1: long wavelengths divided by rope_factor, short ones kept, a smooth blend between."""
    wavelen = 2 * math.pi / freqs
    low_wavelen = cfg.original_seq_len / cfg.rope_low_freq_factor
    high_wavelen = cfg.original_seq_len / cfg.rope_high_freq_factor
    scaled = torch.where(wavelen > low_wavelen, freqs / cfg.rope_factor, freqs)
    smooth = (cfg.original_seq_len / wavelen - cfg.rope_low_freq_factor) / (
        cfg.rope_high_freq_factor - cfg.rope_low_freq_factor)
    blended = (1 - smooth) * scaled / cfg.rope_factor + smooth * scaled
    medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen)
    return torch.where(medium, blended, scaled)


def yarn_softmax_scale(head_dim: int, cfg: ModelConfig) -> float:
    """Attention scale head_dim^-1/2, times mscale^2 when YaRN extends the context (DeepSeek-V3 MLA)."""
    scale = head_dim ** -0.5
    if cfg.rope_type == "yarn" and cfg.max_seq_len > cfg.original_seq_len and cfg.rope_factor != 1.0:
        mscale = 0.1 * cfg.mscale * math.log(cfg.rope_factor) + 1.0
        scale *= mscale * mscale
    return scale


# (device, positions, inverse frequencies) -> tables shared by every Rotary built with them; weak, so tables of
# freed models are freed too
_ROPE_COS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_ROPE_SIN: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class Rotary(nn.Module):
    """Precomputed cos/sin tables for one rotary size, applied in the interleaved or the NeoX convention.

    Interleaved (DeepSeek MLA) rotates adjacent pairs (x0, x1), (x2, x3), ...; NeoX (Llama, DSA indexer) rotates
    (x_i, x_{i+d/2}). The two are the same rotation on permuted channels, so weights from one convention only work
    with that convention.

    Attributes:
        cos, sin: (max_seq_len, rope_dim/2) non-persistent buffers.
    """

    def __init__(self, rope_dim: int, cfg: ModelConfig, interleaved: bool) -> None:
        super().__init__()
        self.interleaved, self.rope_dim, self.cfg = interleaved, rope_dim, cfg
        self.register_buffer("cos", torch.empty(cfg.max_seq_len, rope_dim // 2), persistent=False)
        self.register_buffer("sin", torch.empty(cfg.max_seq_len, rope_dim // 2), persistent=False)
        self.reset_tables()

    def reset_tables(self, device: torch.device | str | None = None) -> None:
        """(Re)build cos/sin on `device` (default: where they are), e.g. for a model built on the meta device.

        Layers with the same rotary share one pair of tables (SmolLM2's 30 layers x 8192 positions would otherwise
        hold 60 MiB of identical copies)."""
        device = device or self.cos.device
        if torch.device(device).type == "meta":
            return
        inv_freq = yarn_inv_freq(self.rope_dim, self.cfg)
        key = (str(torch.device(device)), self.cfg.max_seq_len, inv_freq.numpy().tobytes())
        cos, sin = _ROPE_COS.get(key), _ROPE_SIN.get(key)
        if cos is None or sin is None:
            positions = torch.arange(self.cfg.max_seq_len, dtype=torch.float32, device=device)
            angles = torch.outer(positions, inv_freq.to(device))
            cos, sin = angles.cos(), angles.sin()
            _ROPE_COS[key], _ROPE_SIN[key] = cos, sin
        self.cos, self.sin = cos, sin

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """x: (B, S, H, rope_dim); positions: (B, S) int64 -> rotated x, same shape and dtype."""
        cos = self.cos[positions].unsqueeze(2)
        sin = self.sin[positions].unsqueeze(2)
        xf = x.float()
        if self.interleaved:
            x1, x2 = xf[..., 0::2], xf[..., 1::2]
            out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)
        else:
            half = x.shape[-1] // 2
            x1, x2 = xf[..., :half], xf[..., half:]
            out = torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
        return out.to(x.dtype)


class MLP(nn.Module):
    """SwiGLU feed-forward: w2(silu(w1 x) * w3 x).

    Attributes:
        w1: gate projection (inter_dim, dim); w3: up projection (inter_dim, dim); w2: down projection (dim, inter_dim).
    """

    def __init__(self, dim: int, inter_dim: int) -> None:
        super().__init__()
        self.w1 = Linear(dim, inter_dim)
        self.w2 = Linear(inter_dim, dim)
        self.w3 = Linear(dim, inter_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., dim) -> (..., dim)."""
        fused = fused_linear(x, (self.w1.weight, self.w3.weight)) if fusable(self.w1, self.w3) else None
        gate, up = fused if fused is not None else (self.w1(x), self.w3(x))
        return self.w2(F.silu(gate) * up)

    def fused_groups(self) -> list[tuple[torch.Tensor, ...]]:
        """Weights an engine may pack stacked for `fused_linear` (gate with up)."""
        return [(self.w1.weight, self.w3.weight)] if fusable(self.w1, self.w3) else []


def causal_mask(positions: torch.Tensor, num_keys: int) -> torch.Tensor:
    """Boolean (B, S, num_keys) mask: query at position p sees keys 0..p.

    Cache slot index equals position (no left padding), so this is also the mask for chunked prefill at
    start_pos > 0 (shape (S, start + S)) and for rows of different lengths in one decode step.
    """
    keys = torch.arange(num_keys, device=positions.device)
    return keys.view(1, 1, -1) <= positions.unsqueeze(-1)
