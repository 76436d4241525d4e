"""The trainer under `torchrun --nproc_per_node 2` (gloo, CPU): ranks draw different tasks, average gradients, end with
identical weights, only rank 0 writes metrics and checkpoints, and a resumed run continues every rank's own stream."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_rank_torchrun_keeps_ranks_identical_writes_once_and_resumes(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(WORKER),
           str(tmp_path)]
    proc = subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    a0, a1 = r0["straight"], r1["straight"]
    assert a0["world_size"] == a1["world_size"] == 2
    assert a0["initial"] == a1["initial"]
    assert a0["final"] == a1["final"] != a0["initial"]  # both ranks took the same, real optimizer steps
    assert all(len(t) == 2 for t in a0["tasks"] + a1["tasks"])  # 4 groups per step split over 2 ranks
    assert a0["tasks"] != a1["tasks"]  # each rank collected its own share
    assert all(math.isfinite(x) for x in a0["losses"] + a1["losses"])
    assert a0["rewards"] == a1["rewards"]  # reward_mean is averaged over the ranks
    metrics = (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(m)["step"] for m in metrics] == [0, 1, 2]  # written once, by rank 0
    assert (tmp_path / "straight" / "checkpoints" / "latest").read_text() == "step_000003"
    for r in (r0, r1):  # stopped after 2 steps and resumed: each rank draws what it drew in the straight run
        assert r["first"]["tasks"] + r["resumed"]["tasks"] == r["straight"]["tasks"]
        assert r["resumed"]["final"] == r["straight"]["final"]
