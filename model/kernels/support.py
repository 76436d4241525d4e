"""The sampling support (recorded top-k/top-p set) as padded token ids: the one representation kernels accept."""

from __future__ import annotations

import torch

PAD_ID = -1
"""Padding value in a support-id tensor: slot holds no token."""


def normalize_support(support: torch.Tensor | None, *, num_rows: int, vocab_size: int) -> torch.Tensor | None:
    """Return the sampling support as a padded ``(N, K)`` int64 tensor of token ids, ``-1`` marking empty slots.

    Why ids and not a boolean mask: a top-k/top-p support is small (K ≪ V), and an ``(N, V)`` mask at N = 8192,
    V = 49152 is 400 MB, which is the very tensor the chunked kernels avoid. Kernels build the ``(chunk, V)`` mask
    from the ids one chunk at a time.

    Args:
        support: ``None`` (full vocabulary), a bool ``(N, V)`` mask (True = token in the support; converted here), or
            an integer ``(N, K)`` tensor of token ids padded with ``-1``. Duplicate ids in a row are allowed.
        num_rows: N, the number of token rows.
        vocab_size: V.

    Returns:
        ``None`` or an int64 ``(N, K)`` tensor on the support's device, K ≥ 1.

    Raises:
        ValueError: wrong shape, ids outside ``[-1, V)``, or a row with an empty support.
        TypeError: a dtype that is neither bool nor integer.
    """
    if support is None:
        return None
    if support.dim() != 2 or support.shape[0] != num_rows:
        raise ValueError(f"support must have shape (N, K) or (N, V) with N={num_rows}, got {tuple(support.shape)}")
    if support.dtype == torch.bool:
        if support.shape[1] != vocab_size:
            raise ValueError(f"a bool support mask must have shape (N, V=({vocab_size})), got {tuple(support.shape)}")
        return _mask_to_ids(support)
    if support.dtype.is_floating_point or support.dtype.is_complex:
        raise TypeError(f"support must be a bool mask or an integer id tensor, got dtype {support.dtype}")
    ids = support.to(torch.int64)
    if ids.numel() and (int(ids.min()) < PAD_ID or int(ids.max()) >= vocab_size):
        raise ValueError(f"support ids must lie in [-1, {vocab_size}), got range [{int(ids.min())}, {int(ids.max())}]")
    if ids.shape[1] == 0 or bool((ids == PAD_ID).all(dim=1).any()):
        raise ValueError("support has a row with no token; every row needs at least its sampled token")
    return ids


def _mask_to_ids(mask: torch.Tensor) -> torch.Tensor:
    """Convert a bool ``(N, V)`` mask into right-padded ids ``(N, max_row_count)``."""
    counts = mask.sum(dim=1)
    if bool((counts == 0).any()):
        raise ValueError("support has a row with no token; every row needs at least its sampled token")
    width = int(counts.max())
    rows, cols = mask.nonzero(as_tuple=True)
    starts = torch.cumsum(counts, 0) - counts
    slots = torch.arange(rows.numel(), device=mask.device) - starts[rows]
    ids = torch.full((mask.shape[0], width), PAD_ID, dtype=torch.int64, device=mask.device)
    ids[rows, slots] = cols
    return ids


def support_mask_chunk(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Dense bool ``(rows, V)`` mask for one chunk of support ids (padding goes to a spill column that is dropped)."""
    mask = torch.zeros(ids.shape[0], vocab_size + 1, dtype=torch.bool, device=ids.device)
    mask.scatter_(1, torch.where(ids < 0, vocab_size, ids), True)
    return mask[:, :vocab_size]


def check_targets_in_support(targets: torch.Tensor, ids: torch.Tensor) -> None:
    """Raise ValueError when a target token is outside its row's support (its renormalized logprob would be -inf)."""
    inside = (ids == targets[:, None]).any(dim=1)
    if not bool(inside.all()):
        row = int((~inside).nonzero()[0])
        raise ValueError(f"targets[{row}]={int(targets[row])} is not in that row's support")
