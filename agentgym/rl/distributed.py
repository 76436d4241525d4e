"""Data-parallel training under `torchrun`: each rank collects its share of the groups, gradients are averaged.

`torchrun --nproc_per_node N -m agentgym.app.cli train CONFIG` (or any script that builds a `GRPOTrainer`) starts N
processes with RANK / WORLD_SIZE / MASTER_ADDR set; `DataParallel.from_env()` joins the process group (gloo on CPU,
nccl on CUDA). Every rank starts from rank 0's weights, draws its own tasks (sampler and sampling seeds offset by the
rank) and all-reduces the gradients before clipping, so the ranks take identical optimizer steps and stay identical.
Only rank 0 writes metrics and checkpoints (with every rank's sampler position, so a resumed rank continues its own
task stream). In a single process every method is the identity, so a plain run is
unchanged bit for bit.

Gradient averaging by hand, instead of wrapping the model in `DistributedDataParallel`, keeps the trainer's calls on
the plain model (its engine, logprob and checkpoint code) and allows ranks with different token counts per batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch

RANK_SEED_STRIDE = 1_000_003


@dataclass(frozen=True, slots=True)
class DataParallel:
    """This process's place in the data-parallel group (rank 0 of 1 outside torchrun)."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def from_env(cls) -> DataParallel:
        """Join the process group torchrun describes in the environment (WORLD_SIZE > 1), else a single process."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(rank=dist.get_rank(), world_size=dist.get_world_size())

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes metrics, checkpoints and plots."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def seed(self, seed: int) -> int:
        """A per-rank seed (rank 0 keeps `seed`): ranks draw different tasks and sample differently."""
        return seed + RANK_SEED_STRIDE * self.rank

    def num_groups(self, total: int) -> int:
        """This rank's share of `total` groups per step (the remainder goes to the lowest ranks)."""
        if total < self.world_size:
            raise ValueError(f"groups_per_step ({total}) must be >= the number of torchrun processes "
                             f"({self.world_size})")
        return total // self.world_size + (1 if self.rank < total % self.world_size else 0)

    def broadcast_parameters(self, module: torch.nn.Module) -> None:
        """Copy rank 0's weights (and buffers) to every rank."""
        if not self.enabled:
            return
        import torch.distributed as dist

        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)

    def average_gradients(self, params: list[torch.nn.Parameter]) -> None:
        """Mean of every gradient over the ranks (a missing gradient counts as zeros), in one flat all-reduce."""
        if not self.enabled:
            return
        import torch.distributed as dist

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(p).clone()
            offset += n

    def min_int(self, value: int) -> int:
        """The smallest `value` over the ranks (all ranks must run the same number of all-reduced updates)."""
        if not self.enabled:
            return value
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return int(t.item())

    def mean(self, value: Any) -> Any:
        """The mean of a float metric over the ranks."""
        if not self.enabled:
            return value
        import torch.distributed as dist

        t = torch.tensor([float(value)], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def gather_objects(self, value: Any) -> list[Any]:
        """`value` of every rank, in rank order (picklable objects, e.g. sampler states)."""
        if not self.enabled:
            return [value]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()
