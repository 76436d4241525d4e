"""The verdict of an env whose checker is a score and a pass threshold (datasets, MCP tool envs)."""

from __future__ import annotations

from agentgym.api import Verdict


def threshold_verdict(score: float, threshold: float, scored: str) -> Verdict:
    """reward = score, passed when it reaches `threshold`; `scored` says what was scored against what."""
    passed = score >= threshold
    return Verdict(reward=score, passed=passed, reasons=[f"{scored} ({'>=' if passed else '<'} {threshold:g})"],
                   components={"score": score})
