"""One rank of the torchrun test. Three toy GRPO runs in the same process group: A goes 3 steps straight; B stops
after 2 and C resumes B to 3. Writes this rank's weights hashes, drawn tasks and metrics to OUT/rank{RANK}.json."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from conftest import toy_config

from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.rl.trainer import GRPOTrainer


def weights_hash(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def run(out_dir: Path, steps: int, *, resume: bool = False) -> dict:
    config = toy_config(str(out_dir), steps=steps, groups_per_step=4, group_size=4,
                        techniques={"dynamic_filtering": False})  # every step updates on both ranks
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    initial = weights_hash(trainer.model)
    tasks: list[list[str]] = []
    collect = trainer.collector.collect

    def recording_collect(num_groups, *, seed):
        collection = collect(num_groups, seed=seed)
        tasks.append([g.task.id for g in collection.groups])
        return collection

    trainer.collector.collect = recording_collect
    records = trainer.train(resume=resume)
    return {"world_size": trainer.dp.world_size, "initial": initial, "final": weights_hash(trainer.model),
            "tasks": tasks, "losses": [r.get("loss") for r in records], "rewards": [r["reward_mean"] for r in records]}


def main() -> None:
    out = Path(sys.argv[1])
    rank = int(os.environ.get("RANK", "0"))
    result = {"rank": rank, "straight": run(out / "straight", 3), "first": run(out / "resumed", 2),
              "resumed": run(out / "resumed", 3, resume=True)}
    (out / f"rank{rank}.json").write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
