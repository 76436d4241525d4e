"""Subprocess body of the resume test: a short toy GRPO run with a checkpoint after every step.

usage: python resume_worker.py OUT_DIR [--resume] [--pause-at STEP]
With --pause-at, it prints PAUSED and sleeps after that step's metrics, so the parent can SIGKILL it between steps.
"""

from __future__ import annotations

import sys
import time

import torch

from agentgym.rl.config import parse_config
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.rl.trainer import GRPOTrainer


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    out = argv[0]
    resume = "--resume" in argv
    pause_at = int(argv[argv.index("--pause-at") + 1]) if "--pause-at" in argv else -1
    config = parse_config({
        "envs": [{"name": "echo", "num_tasks": 32, "kl_beta": 0.05}],
        "model": {"preset": "tiny", "overrides": {"vocab_size": 16}, "max_seq_len": 64},
        "sampling": {"max_new_tokens": 2, "max_turns": 1},
        "steps": 4, "groups_per_step": 4, "group_size": 4, "num_minibatches": 2, "checkpoint_every": 1,
        "optim": {"lr": 3e-3, "schedule": "cosine", "warmup_steps": 1}, "out_dir": out, "progress": False,
    })

    def on_step(step: int, metrics: dict) -> None:
        print(f"step {step} loss {metrics.get('loss')!r} reward {metrics['reward_mean']!r}", flush=True)
        if step == pause_at:
            print("PAUSED", flush=True)
            time.sleep(600)

    GRPOTrainer(config, make_env=lambda name: EchoLetterEnv(), on_step=on_step).train(resume=resume)


if __name__ == "__main__":
    main(sys.argv[1:])
