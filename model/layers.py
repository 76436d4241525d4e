"""Basic layers: RMSNorm, rotary embeddings (interleaved and NeoX, with YaRN), the SwiGLU MLP, and a decode-friendly
linear."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

# A decode step multiplies a few activation rows by every weight matrix. For such shapes MKL's sgemm runs
# weight @ x.T (the weight as the non-transposed operand) markedly faster than F.linear's x @ weight.T: on the
# SmolLM2-135M decode matmuls, 1.3-2x less CPU time at 2-16 rows (benchmarks/RESULTS.md, issue 4). Same products,
# summed in a different order (differences at fp32 rounding level), so it is used only where no autograd graph
# is built, for fp32 CPU tensors and weights big enough for the call overhead not to matter.
SKINNY_MAX_ROWS = 16
SKINNY_MIN_WEIGHT_NUMEL = 1 << 16


def linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """F.linear(x, weight) without bias: (..., in) x (out, in) -> (..., out); weight-major GEMM for few rows."""
    rows = x.numel() // max(1, x.shape[-1])
    if (0 < rows <= SKINNY_MAX_ROWS and weight.numel() >= SKINNY_MIN_WEIGHT_NUMEL
            and x.dtype == weight.dtype == torch.float32 and x.device.type == "cpu"
            and not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad))):
        out = torch.mm(weight, x.reshape(rows, x.shape[-1]).t()).t().contiguous()
        return out.view(*x.shape[:-1], weight.shape[0])
    return F.linear(x, weight)


class Linear(nn.Linear):
    """nn.Linear (no bias) whose forward is `linear`; same parameters and state-dict names."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight)


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
    if cfg.max_seq_len <= cfg.original_seq_len or cfg.rope_factor == 1.0:
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


def yarn_softmax_scale(head_dim: int, cfg: ModelConfig) -> float:
    """Attention scale head_dim^-1/2, times mscale^2 when YaRN extends the context (DeepSeek-V3 MLA)."""
    scale = head_dim ** -0.5
    if cfg.max_seq_len > cfg.original_seq_len and cfg.rope_factor != 1.0:
        mscale = 0.1 * cfg.mscale * math.log(cfg.rope_factor) + 1.0
        scale *= mscale * mscale
    return scale


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
        """(Re)build cos/sin on `device` (default: where they are), e.g. for a model built on the meta device."""
        device = device or self.cos.device
        if torch.device(device).type == "meta":
            return
        inv_freq = yarn_inv_freq(self.rope_dim, self.cfg).to(device)
        angles = torch.outer(torch.arange(self.cfg.max_seq_len, dtype=torch.float32, device=device), inv_freq)
        self.cos, self.sin = angles.cos(), angles.sin()

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
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def causal_mask(positions: torch.Tensor, num_keys: int) -> torch.Tensor:
    """Boolean (B, S, num_keys) mask: query at position p sees keys 0..p.

    Cache slot index equals position (no left padding), so this is also the mask for chunked prefill at
    start_pos > 0 (shape (S, start + S)) and for rows of different lengths in one decode step.
    """
    keys = torch.arange(num_keys, device=positions.device)
    return keys.view(1, 1, -1) <= positions.unsqueeze(-1)
