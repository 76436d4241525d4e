"""The functions behind `agentgym sft` (and `agentgym train`, tested in test_config)."""

from __future__ import annotations

import json

from agentgym.model.checkpoint import load_checkpoint

from agentgym.rl.jobs import sft
from agentgym.rollout import read_trajectories


def test_sft_command_keeps_successes_and_writes_a_loadable_model(tmp_path):
    script = tmp_path / "actions.jsonl"
    # a scripted policy that always submits 16: right only on the one task (of arith's first 40) whose answer is 16
    script.write_text(json.dumps({"tool_calls": [{"name": "submit", "arguments": {"answer": 16}}]}) + "\n")
    summary = sft(envs=["arith"], policy=f"scripted:{script}", model="tiny", out_dir=tmp_path / "out",
                  num_tasks=40, num_samples=1, max_turns=1, epochs=1, progress=False)
    kept = list(read_trajectories(tmp_path / "out" / "demos.jsonl"))
    assert summary["episodes"] == 40 and summary["kept"] == len(kept) == 1
    assert kept[0].reward == 1.0 and kept[0].messages[-2].tool_calls[0].arguments == {"answer": 16}
    assert len(summary["losses"]) == 1 and summary["losses"][0] > 0
    model = load_checkpoint(str(tmp_path / "out" / "model.safetensors"))
    assert model.cfg.vocab_size == 512
