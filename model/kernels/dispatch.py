"""The dispatcher: the one caller of every kernel; picks the fastest path the tensors allow, or the one named."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import sys
from types import ModuleType

import torch

from . import chunked, fused, grpo, mla, moe, ref
from .errors import KernelPathError, TritonNotInstalled
from .grpo_config import GRPOLossConfig, GRPOLossOutput
from .support import check_targets_in_support, normalize_support

PATHS = ("ref", "cpu", "triton")
"""ref: the pure-PyTorch oracle. cpu: torch code that runs on any device. triton: GPU kernels (or the interpreter)."""
KERNEL_PATHS = {
    "linear_logprob": ("ref", "cpu", "triton"),
    "grpo_loss": ("ref", "cpu", "triton"),
    "linear_grpo_loss": ("ref", "cpu"),
    "moe_swiglu": ("ref", "cpu"),
    "mla_decode": ("ref", "cpu", "triton"),
}


def is_triton_installed() -> bool:
    """Whether ``import triton`` would succeed (checked without importing it)."""
    return importlib.util.find_spec("triton") is not None


TRITON_MODULES = {"linear_logprob": "logprob", "grpo_loss": "grpo", "mla_decode": "mla"}
"""The module under ``kernels/triton/`` that holds each kernel's Triton path."""
TRUE_ENV_VALUES = ("1", "true", "on", "yes", "y")
"""The values Triton itself reads as true in ``TRITON_INTERPRET`` (case-insensitive)."""


def _decorated_for_interpreter(module_name: str, attribute_suffix: str) -> bool:
    """False iff ``module_name`` is imported and its ``@triton.jit`` functions were decorated for the compiler."""
    module = sys.modules.get(module_name)
    members = vars(module).items() if module is not None else ()
    kinds = {type(obj).__name__ for name, obj in members if name.endswith(attribute_suffix) and hasattr(obj, "fn")}
    return not kinds or "InterpretedFunction" in kinds


def is_interpreter_enabled(kernel: str) -> bool:
    """Whether ``kernel``'s Triton path can run in the CPU interpreter in this process.

    Triton reads ``TRITON_INTERPRET`` at several moments: when triton is imported (its ``tl`` helpers are decorated
    then), when our kernel module is imported (our kernels), and again at launch. So the variable must be on now
    (read as triton reads it), and whatever was already decorated must have been decorated for the interpreter;
    otherwise the launch would fail deep inside triton instead of with the dispatcher's message.
    """
    if os.environ.get("TRITON_INTERPRET", "").lower() not in TRUE_ENV_VALUES:
        return False
    return _decorated_for_interpreter("triton.language.standard", "") and _decorated_for_interpreter(
        f"{__package__}.triton.{TRITON_MODULES[kernel]}", "_kernel"
    )


def resolve_path(kernel: str, path: str | None, device: torch.device) -> str:
    """The path that will run ``kernel`` on tensors on ``device``.

    With ``path=None``: triton for CUDA tensors when triton is installed and the kernel has a Triton version, else cpu.

    Raises:
        KernelPathError: ``path`` is unknown (with the closest names), the kernel has no such path, or the Triton
            path was asked for non-CUDA tensors while this process cannot interpret it (``is_interpreter_enabled``).
        TritonNotInstalled: the Triton path was asked for and triton is missing (the message gives the pip command).
    """
    available = KERNEL_PATHS[kernel]
    if path is None:
        return "triton" if device.type == "cuda" and "triton" in available and is_triton_installed() else "cpu"
    if path not in PATHS:
        hint = difflib.get_close_matches(str(path), PATHS, n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise KernelPathError(f"unknown kernel path {path!r} for {kernel}; choose one of {available}.{suggestion}")
    if path not in available:
        raise KernelPathError(f"{kernel} has no {path!r} path; available paths: {available}")
    if path == "triton":
        if not is_triton_installed():
            raise TritonNotInstalled()
        if device.type != "cuda" and not is_interpreter_enabled(kernel):
            raise KernelPathError(
                f"the triton path of {kernel} needs CUDA tensors, got {device.type} tensors; for the CPU interpreter "
                "set TRITON_INTERPRET=1 before triton and the kernels are first imported"
            )
    return path


def _triton_module(name: str) -> ModuleType:
    """Import a Triton kernel module on demand, so that importing this package never imports triton."""
    return importlib.import_module(f"{__package__}.triton.{name}")


def linear_logprob(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    *,
    temperature: float = 1.0,
    support: torch.Tensor | None = None,
    with_entropy: bool = False,
    chunk_rows: int | None = None,
    path: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-token ``log_softmax(h Wᵀ / τ)[target]`` (and entropy) without materializing the (N, V) logits.

    Args:
        hidden: (N, H) final hidden states. weight: (V, H) LM-head weight. targets: (N,) int64 token ids.
        temperature: τ > 0, the sampling temperature the tokens were drawn with.
        support: the recorded sampling support (top-k/top-p set) — None, a bool (N, V) mask, or a (N, K) int64 id
            tensor padded with -1 (see ``support.normalize_support``). Logprobs are renormalized over it; every target
            must be inside its row's support.
        with_entropy: also return the entropy of the same (tempered, renormalized) distribution.
        chunk_rows: rows per logits block on the cpu path (default: about 16M logits per block).
        path: None (automatic), "ref", "cpu" or "triton".

    Returns:
        (logprob (N,), entropy (N,) or None), in fp32 (fp64 for fp64 inputs).
    """
    if hidden.dim() != 2 or weight.dim() != 2 or hidden.shape[1] != weight.shape[1]:
        raise ValueError(f"hidden (N, H) and weight (V, H) disagree: {tuple(hidden.shape)} vs {tuple(weight.shape)}")
    if targets.shape != (hidden.shape[0],) or targets.dtype.is_floating_point:
        raise ValueError(f"targets must be an integer tensor of shape ({hidden.shape[0]},), got {tuple(targets.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if chunk_rows is not None and chunk_rows <= 0:
        raise ValueError(f"chunk_rows must be positive, got {chunk_rows}")
    targets = targets.to(torch.int64)
    ids = normalize_support(support, num_rows=hidden.shape[0], vocab_size=weight.shape[0])
    if ids is not None:
        check_targets_in_support(targets, ids)
    chosen = resolve_path("linear_logprob", path, hidden.device)
    if chosen == "ref":
        logprob, entropy = ref.linear_logprob_ref(hidden, weight, targets, temperature=temperature, support=ids)
    elif chosen == "cpu":
        rows = chunk_rows or chunked.default_chunk_rows(weight.shape[0])
        logprob, entropy = chunked.ChunkedLinearLogprob.apply(
            hidden, weight, targets, ids, float(temperature), rows, with_entropy
        )
    else:
        logprob, entropy = _triton_module("logprob").linear_logprob_triton(
            hidden, weight, targets, temperature=float(temperature), support=ids, with_entropy=with_entropy
        )
    return logprob, (entropy if with_entropy else None)


def _check_loss_shapes(shape: torch.Size, **tensors: torch.Tensor | None) -> None:
    """Raise ValueError naming the first loss input whose shape is not (B, T) (or (B,) for per-sequence inputs;
    advantages may be either)."""
    for name, t in tensors.items():
        want = (shape[0],) if name in ("advantages", "beta") else tuple(shape)
        if name == "advantages" and t is not None and tuple(t.shape) == tuple(shape):
            continue
        if t is not None and tuple(t.shape) != want:
            raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)}")


def grpo_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    loss_mask: torch.Tensor,
    *,
    config: GRPOLossConfig | None = None,
    ref_logprobs: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    entropy: torch.Tensor | None = None,
    path: str | None = None,
) -> GRPOLossOutput:
    """The GRPO/PPO loss and its metrics; see ``grpo.grpo_loss`` for the arguments and ``GRPOLossConfig`` for the math."""
    config = config if config is not None else GRPOLossConfig()
    if logprobs.dim() != 2:
        raise ValueError(f"logprobs must be (B, T), got {tuple(logprobs.shape)}")
    _check_loss_shapes(logprobs.shape, old_logprobs=old_logprobs, loss_mask=loss_mask, ref_logprobs=ref_logprobs,
                       entropy=entropy, advantages=advantages, beta=beta)
    chosen = resolve_path("grpo_loss", path, logprobs.device)
    if chosen == "ref":
        return ref.grpo_loss_ref(logprobs, old_logprobs, advantages, loss_mask, config=config,
                                 ref_logprobs=ref_logprobs, beta=beta, entropy=entropy)
    kernel = grpo.token_loss_torch if chosen == "cpu" else _triton_module("grpo").token_loss_triton
    return grpo.grpo_loss(logprobs, old_logprobs, advantages, loss_mask, config=config, token_loss=kernel,
                          ref_logprobs=ref_logprobs, beta=beta, entropy=entropy)


def linear_grpo_loss(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    loss_mask: torch.Tensor,
    *,
    config: GRPOLossConfig | None = None,
    temperature: float = 1.0,
    support: torch.Tensor | None = None,
    ref_logprobs: torch.Tensor | None = None,
    beta: torch.Tensor | None = None,
    path: str | None = None,
) -> GRPOLossOutput:
    """The GRPO loss straight from hidden states: ``grpo_loss(linear_logprob(h, W, targets), ...)`` in one pass.

    hidden is (B, T, H) and targets (B, T); support, if given, is (B, T, K) ids or a (B, T, V) bool mask; the rest
    is as in ``grpo_loss`` and ``linear_logprob``. The cpu path forms dh and dW during forward, one chunk of whole
    sequences at a time (three GEMMs instead of four); when one sequence alone exceeds four times the chunk budget,
    it falls back to ``linear_logprob`` followed by ``grpo_loss``. metrics["entropy"] is the policy entropy.
    """
    config = config if config is not None else GRPOLossConfig()
    if hidden.dim() != 3 or targets.shape != hidden.shape[:2]:
        raise ValueError(f"hidden must be (B, T, H) and targets (B, T), got {tuple(hidden.shape)} and "
                         f"{tuple(targets.shape)}")
    num_seqs, seq_len = targets.shape
    _check_loss_shapes(targets.shape, old_logprobs=old_logprobs, loss_mask=loss_mask, ref_logprobs=ref_logprobs,
                       advantages=advantages, beta=beta)
    flat_support = None if support is None else support.reshape(num_seqs * seq_len, support.shape[-1])
    chosen = resolve_path("linear_grpo_loss", path, hidden.device)
    chunk_rows = chunked.default_chunk_rows(weight.shape[0])
    if chosen == "ref" or seq_len > 4 * chunk_rows:
        step = "ref" if chosen == "ref" else "cpu"
        logprobs, entropy = linear_logprob(hidden.reshape(num_seqs * seq_len, -1), weight, targets.reshape(-1),
                                           temperature=temperature, support=flat_support, with_entropy=True,
                                           path=step)
        return grpo_loss(logprobs.view(num_seqs, seq_len), old_logprobs, advantages, loss_mask, config=config,
                         ref_logprobs=ref_logprobs, beta=beta, entropy=entropy.detach().view(num_seqs, seq_len),
                         path=step)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    ids = normalize_support(flat_support, num_rows=num_seqs * seq_len, vocab_size=weight.shape[0])
    if ids is not None:
        check_targets_in_support(targets.reshape(-1).to(torch.int64), ids)
    loss, logprobs, entropy = fused.LinearGRPOLoss.apply(
        hidden, weight, targets.to(torch.int64), ids, float(temperature), max(1, chunk_rows // seq_len),
        old_logprobs, advantages, loss_mask, ref_logprobs, beta, config, grpo.token_loss_torch,
    )
    metrics = grpo.grpo_metrics(logprobs, old_logprobs, advantages, loss_mask, config=config,
                                ref_logprobs=ref_logprobs, entropy=entropy)
    return GRPOLossOutput(loss=loss, metrics=metrics)


def moe_swiglu(
    x: torch.Tensor,
    expert_ids: torch.Tensor,
    expert_weights: torch.Tensor,
    w_gate: torch.Tensor,
    w_up: torch.Tensor,
    w_down: torch.Tensor,
    *,
    path: str | None = None,
) -> torch.Tensor:
    """Routed SwiGLU experts; see ``ref.moe_swiglu_ref`` for shapes and the formula. Differentiable in all floats."""
    num_experts, inter_dim, dim = w_gate.shape
    if x.dim() != 2 or x.shape[1] != dim or w_up.shape != w_gate.shape or w_down.shape != (num_experts, dim, inter_dim):
        raise ValueError(
            f"shapes disagree: x {tuple(x.shape)}, w_gate/w_up (E, F, D) {tuple(w_gate.shape)}/{tuple(w_up.shape)}, "
            f"w_down (E, D, F) {tuple(w_down.shape)}"
        )
    if expert_ids.shape != expert_weights.shape or expert_ids.dim() != 2 or expert_ids.shape[0] != x.shape[0]:
        raise ValueError(f"expert_ids and expert_weights must both be (N, k), got {tuple(expert_ids.shape)} and "
                         f"{tuple(expert_weights.shape)}")
    expert_ids = expert_ids.to(torch.int64)
    if expert_ids.numel() and (int(expert_ids.min()) < 0 or int(expert_ids.max()) >= num_experts):
        raise ValueError(f"expert_ids must lie in [0, {num_experts})")
    chosen = resolve_path("moe_swiglu", path, x.device)
    kernel = ref.moe_swiglu_ref if chosen == "ref" else moe.moe_swiglu_grouped
    return kernel(x, expert_ids, expert_weights, w_gate, w_up, w_down)


def mla_decode(
    q_latent: torch.Tensor,
    q_pe: torch.Tensor,
    kv_cache: torch.Tensor,
    pe_cache: torch.Tensor,
    seq_lens: torch.Tensor,
    *,
    scale: float,
    topk_indices: torch.Tensor | None = None,
    path: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Absorbed MLA decode attention (one query per row) → (out (B, H, C), lse (B, H)); see ``ref.mla_decode_ref``.

    Every path is differentiable in q_latent, q_pe, kv_cache and pe_cache (the Triton one through a torch backward).
    """
    num_rows, _, latent_dim = q_latent.shape
    if kv_cache.dim() != 3 or kv_cache.shape[0] != num_rows or kv_cache.shape[2] != latent_dim:
        raise ValueError(f"kv_cache must be (B, T, C) = ({num_rows}, T, {latent_dim}), got {tuple(kv_cache.shape)}")
    if pe_cache.shape[:2] != kv_cache.shape[:2] or q_pe.shape[:2] != q_latent.shape[:2] or \
            pe_cache.shape[2] != q_pe.shape[2]:
        raise ValueError(f"q_pe {tuple(q_pe.shape)} / pe_cache {tuple(pe_cache.shape)} disagree with the latent shapes")
    if seq_lens.shape != (num_rows,):
        raise ValueError(f"seq_lens must be ({num_rows},), got {tuple(seq_lens.shape)}")
    if topk_indices is not None and (topk_indices.dim() != 2 or topk_indices.shape[0] != num_rows):
        raise ValueError(f"topk_indices must be (B, K) with B={num_rows}, got {tuple(topk_indices.shape)}")
    seq_lens = seq_lens.to(torch.int64)
    topk_indices = topk_indices.to(torch.int64) if topk_indices is not None else None
    chosen = resolve_path("mla_decode", path, q_latent.device)
    if chosen == "ref":
        kernel = ref.mla_decode_ref
    elif chosen == "cpu":
        kernel = mla.mla_decode_torch
    else:
        kernel = _triton_module("mla").mla_decode_triton
    return kernel(q_latent, q_pe, kv_cache, pe_cache, seq_lens, scale=scale, topk_indices=topk_indices)
