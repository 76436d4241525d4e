"""Run metrics: one JSON line per step (always), TensorBoard scalars (optional extra), a reward-curve PNG at the end."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any


class MetricsLogger:
    """Appends `{"step": k, ...}` lines to `OUT/metrics.jsonl`; mirrors them to TensorBoard when asked.

    On resume the file is truncated to the steps before the resumed step, so it never holds a step twice.
    """

    def __init__(self, out_dir: str | Path, *, tensorboard: bool = False, resume_step: int = 0) -> None:
        self.path = Path(out_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_metrics(self.path) if r["step"] < resume_step] if resume_step else []
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:
                raise ImportError("TensorBoard logging needs the tensorboard package: "
                                  "pip install 'agentgym-rl[tensorboard]' (or pip install tensorboard)") from e
            self.writer = SummaryWriter(str(Path(out_dir) / "tensorboard"))

    def log(self, step: int, values: dict[str, Any]) -> None:
        record = {"step": step, **{k: _plain(v) for k, v in values.items()}}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    self.writer.add_scalar(k, v, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    return v


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file (a torn last line is skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def plot_reward_curve(records: list[dict[str, Any]], path: str | Path, *, key: str = "reward_mean",
                      title: str = "GRPO reward") -> Path | None:
    """Write a PNG of `key` over steps (needs matplotlib: pip install 'agentgym-rl[eval]'); None when it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    steps = [r["step"] for r in records if key in r]
    values = [r[key] for r in records if key in r]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, values, marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
