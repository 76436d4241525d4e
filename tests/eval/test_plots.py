"""The plots render as real PNGs for long pass@k curves and wide turn ranges; without matplotlib the run survives."""

from __future__ import annotations

import json
import sys

import pytest

from agentgym.api import Trajectory, Verdict
from agentgym.errors import DependencyNotInstalled
from agentgym.eval.metrics import summarize
from agentgym.eval.plots import plot_env
from agentgym.eval.report import build_report
from agentgym.jsonio import write_jsonl_atomic

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def trajectories(num_tasks: int, n: int) -> list[Trajectory]:
    out = []
    for task in range(num_tasks):
        for sample in range(n):
            passed = (task + sample) % 3 == 0
            out.append(Trajectory(task_id=f"t{task}", env="e", reward=0.25 * ((task + sample) % 5), turns=[],
                                  messages=[{"role": "assistant"}] * (1 + (task * sample) % 30),
                                  verdict=Verdict(reward=float(passed), passed=passed)))
    return out


def test_plots_are_valid_images_of_the_configured_size(tmp_path):
    import matplotlib.image

    episodes = trajectories(5, 32)
    paths = plot_env(summarize("e", episodes), episodes, tmp_path)
    assert [p.name for p in paths] == ["e_passk.png", "e_reward.png", "e_turns.png"]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        pixels = matplotlib.image.imread(path)
        assert pixels.shape == (400, 600, 4)  # RGBA, 6 × 4 inches at 100 dpi
        assert pixels[..., :3].std() > 0.05  # something was drawn on the white canvas


def test_missing_matplotlib_skips_plots_but_keeps_the_report(tmp_path, monkeypatch):
    write_jsonl_atomic(tmp_path / "trajectories" / "e.jsonl", [t.model_dump(mode="json") for t in trajectories(2, 2)])
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    with pytest.raises(DependencyNotInstalled, match=r"pip install 'agentgym-rl\[eval\]'"):
        plot_env(summarize("e", trajectories(1, 1)), trajectories(1, 1), tmp_path / "p")
    [metrics] = build_report(tmp_path)
    assert metrics.num_episodes == 4
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["plots"] == {} and "agentgym-rl[eval]" in results["plots_skipped"]
    assert "Plots were skipped" in (tmp_path / "report.md").read_text()
    assert not (tmp_path / "plots").exists()
