"""The `memory:` section of a train config: options that cut the trainer's peak memory (docs/memory.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class MemorySection(BaseModel):
    """Peak-memory options. The update options default off (the defaults train exactly as plain AdamW does); the
    engine's packed weights default on."""

    model_config = ConfigDict(extra="forbid")

    optimizer_in_backward: bool = False
    """Apply AdamW to each parameter as soon as its gradient is complete, inside backward, and free that gradient, so
    the gradients of the whole model never exist at once (saves one model's worth of fp32). Same update as AdamW,
    but a global gradient norm is only known after every parameter has stepped, so it needs `optim.grad_clip: null`
    (the reported grad_norm is still the global norm of the unclipped gradient)."""
    optimizer_state_dtype: Literal["float32", "bfloat16", "int8"] = "float32"
    """Dtype of AdamW's two moments. bfloat16 halves the optimizer state (math still runs in fp32, the moments are
    rounded when stored) and changes the updates slightly; int8 quarters it (blockwise 8-bit moments, block 256:
    signed log-scale first moment, log-scale sqrt of the second; larger but bounded rounding, docs/memory.md). Both use
    the in-backward optimizer's AdamW."""
    activation_checkpointing: bool = False
    """Keep only each block's input during the loss forward and recompute the block in backward: activations of one
    block instead of all of them, for about one extra forward pass of compute."""
    engine_packed_weights: bool = True
    """Let the embedded rollout engine keep a oneDNN-packed copy of the matmul weights for CPU fp32 decode (about
    1.3x faster GEMMs at 4-16 rows, repacked after each update) at the cost of one more copy of those weights
    (~0.5 GiB for SmolLM2-135M). Set false when memory is the constraint."""
    trim_heap: bool = False
    """Give freed heap memory back to the OS before and after each update (glibc `malloc_trim`; a no-op elsewhere),
    so the update's freed temporaries do not stay resident. Costs a few milliseconds per step."""
