"""The quickstart job end to end at toy sizes: SmolLM2 loads, evaluates, SFTs, trains, re-evaluates and reports."""

from __future__ import annotations

import json

import pytest

from agentgym.app.quickstart import QuickstartConfig, run_quickstart


@pytest.mark.slow
def test_quickstart_pipeline_writes_report_curve_and_scores(tmp_path):
    config = QuickstartConfig(out_dir=str(tmp_path), num_eval_tasks=1, num_demos=1, sft_epochs=1, steps=1,
                              groups_per_step=1, group_size=2, max_new_tokens=8, trainable_layers=1, progress=False)
    result = run_quickstart(config)
    assert set(result.before) == set(result.after) == {"arith", "rpt", "general"}
    assert all(len(v) == 1 for v in result.after.values())
    report = result.report.read_text()
    assert report.startswith("# agentgym quickstart") and "| **all** |" in report
    assert (tmp_path / "reward_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "eval.json").read_text())["before"] == result.before
    assert len(result.records) == 1 and set(result.seconds) == {"load", "eval_before", "sft", "grpo", "eval_after"}
    with pytest.raises(ValueError, match="group_size"):
        QuickstartConfig(group_size=1)
