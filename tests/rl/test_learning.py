"""Learning is real: GRPO trains the tiny model from scratch on the echo-letter env from < 0.2 to > 0.8 reward.

The first steps' losses and rewards are compared with the recorded curve in golden/grpo_tiny.json (STYLE rule 20);
set AGENTGYM_UPDATE_GOLDEN=1 to re-record it after an intended change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from agentgym.rl.toy import EchoLetterEnv
from agentgym.rl.trainer import GRPOTrainer

GOLDEN = Path(__file__).parent / "golden" / "grpo_tiny.json"
NUM_GOLDEN_STEPS = 6


@pytest.mark.slow
def test_grpo_learns_echo_from_scratch(tmp_path, make_toy_config):
    torch.set_num_threads(2)
    trainer = GRPOTrainer(make_toy_config(str(tmp_path)), make_env=lambda name: EchoLetterEnv())
    records = trainer.train()
    rewards = [r["reward_mean"] for r in records]
    first, last = sum(rewards[:3]) / 3, sum(rewards[-5:]) / 5
    assert first < 0.2, rewards
    assert last > 0.8, rewards
    assert (tmp_path / "metrics.jsonl").is_file() and (tmp_path / "checkpoints" / "latest").is_file()

    curve = {"reward_mean": rewards[:NUM_GOLDEN_STEPS], "loss": [r["loss"] for r in records[:NUM_GOLDEN_STEPS]]}
    if os.environ.get("AGENTGYM_UPDATE_GOLDEN") == "1" or not GOLDEN.exists():
        GOLDEN.write_text(json.dumps(curve, indent=1) + "\n", encoding="utf-8")
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert curve["reward_mean"] == pytest.approx(golden["reward_mean"], abs=1e-6)
    assert curve["loss"] == pytest.approx(golden["loss"], rel=1e-3, abs=1e-6)
