"""Rubrics for synthesized tasks (``PipelineConfig(rubric=True)``, ``agentgym synth general --rubric``): criteria a
generative judge scores a trajectory against (`agentgym.rl.rubric`), written from the checked reference run."""

from __future__ import annotations

import json
from typing import Any


def task_rubric(prompt: str, answer: Any, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three weighted criteria: the submitted answer, the facts looked up with the tools, and a clean episode."""
    tools = sorted({c["name"] for c in calls})
    return [
        {"name": "correct_answer", "weight": 0.6,
         "description": f"The submitted answer is equivalent to {json.dumps(answer, ensure_ascii=False)[:300]}."},
        {"name": "grounded", "weight": 0.3,
         "description": f"The agent looked the facts up with the tools ({', '.join(tools) or 'none needed'}) "
                        f"instead of guessing, and its answer follows from the tool results."},
        {"name": "efficient", "weight": 0.1,
         "description": f"No needless or malformed tool calls (the reference used {len(calls)} call(s))."},
    ]
