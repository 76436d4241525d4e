"""Checkpoints: safetensors weights + optimizer + sampler + RNG state, written atomically, read back for exact resume.

Layout: `OUT/checkpoints/step_000012/{model.safetensors, state.pt}` and `OUT/checkpoints/latest` (the directory
name). A checkpoint is written into a temporary directory and renamed into place, then `latest` is replaced
atomically, so a crash at any moment leaves the previous checkpoint intact and `latest` pointing at a whole one.
A LoRA model's `model.safetensors` holds its adapters only (`agentgym.rl.lora.checkpoint_weights`).
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path
from typing import Any

import torch

LATEST = "latest"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rng_state() -> dict[str, Any]:
    """Python's and torch's global RNG states (everything else is seeded from the step)."""
    return {"python": random.getstate(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])


def save_checkpoint(root: str | Path, step: int, model: torch.nn.Module, state: dict[str, Any]) -> Path:
    """Write checkpoint `step` under `root` atomically and point `latest` at it; returns its directory.

    `state` holds everything but the weights (optimizer, sampler, metrics, ...), saved with `torch.save`.
    """
    from safetensors.torch import save_file

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:06d}"
    final = root / name
    tmp = root / f".{name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    from agentgym.rl.lora import checkpoint_weights

    save_file(checkpoint_weights(model), str(tmp / "model.safetensors"))  # adapters only for a LoRA model
    torch.save({**state, "step": step, "rng": rng_state()}, tmp / "state.pt")
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    pointer = root / f".{LATEST}.tmp-{os.getpid()}"
    pointer.write_text(name, encoding="utf-8")
    os.replace(pointer, root / LATEST)
    _fsync_dir(root)
    return final


def latest_checkpoint(root: str | Path) -> Path | None:
    """The directory `latest` names, or None when there is no checkpoint yet."""
    pointer = Path(root) / LATEST
    if not pointer.is_file():
        return None
    path = Path(root) / pointer.read_text(encoding="utf-8").strip()
    return path if (path / "state.pt").is_file() else None


def load_checkpoint(path: str | Path, model: torch.nn.Module) -> dict[str, Any]:
    """Load the weights into `model` (in place) and return the saved state (RNG already restored)."""
    from safetensors.torch import load_file

    from agentgym.rl.lora import load_checkpoint_weights

    path = Path(path)
    load_checkpoint_weights(model, load_file(str(path / "model.safetensors")))
    state = torch.load(path / "state.pt", weights_only=False)
    set_rng_state(state["rng"])
    return state
