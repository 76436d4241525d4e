"""The DeepSeek-V3.2 post-training recipe from Python: specialists → distilled generalist → mixed RL → report.

Run: ``python examples/v32_recipe.py`` runs configs/recipe_v32_cpu.yaml (SmolLM2-135M over arith, rpt and general;
about an hour on 2 CPU cores) into runs/v32_recipe; run it again and finished stages are skipped. With
``AGENTGYM_SMOKE=1`` it runs a seconds-long toy version on the `tiny` model instead. The same as
``agentgym recipe v32 configs/recipe_v32_cpu.yaml --out runs/v32_recipe``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from agentgym.app.recipe.config import load_recipe, parse_recipe
from agentgym.app.recipe.pipeline import run_recipe

SMOKE = os.environ.get("AGENTGYM_SMOKE") == "1"
CPU_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "recipe_v32_cpu.yaml"


def smoke_config():
    """Two domains on the random-init `tiny` model: every stage runs, the numbers mean nothing."""
    run = {"steps": 1, "groups_per_step": 1, "group_size": 2}  # one GRPO step of one group of two episodes
    return parse_recipe({
        "model": {"preset": "tiny", "overrides": {"max_seq_len": 2048}, "max_seq_len": 2048, "max_batch": 8},
        # every GRPO run shares this TrainConfig part: short single-turn episodes
        "train": {"sampling": {"max_new_tokens": 4, "max_turns": 1}, "techniques": {"dynamic_filtering": False}},
        # each domain: its env mix, its KL β (≈0 for math, larger for general tasks) and its budget
        "domains": {"arith": {"envs": [{"name": "arith", "kwargs": {"difficulty": 1}}], "kl_beta": 0.0, **run},
                    "general": {"envs": [{"name": "general"}], "kl_beta": 0.05, **run}},
        # distillation keeps trajectories with env reward >= min_reward (0 here: a random model never succeeds)
        "distill": {"num_tasks": 1, "num_samples": 1, "min_reward": 0.0, "epochs": 1},
        "mixed": run,
        "eval": {"num_tasks": 1, "max_new_tokens": 4},
        "progress": False,
    })


def main() -> None:
    config = smoke_config() if SMOKE else load_recipe(CPU_CONFIG)
    result = run_recipe(config, "runs/v32_recipe")
    print(f"ran: {', '.join(result.ran) or 'nothing'}; skipped: {', '.join(result.skipped) or 'nothing'}")
    table = json.loads((result.run_dir / "report" / "report.json").read_text())
    for domain, cells in table["rows"].items():  # mean held-out reward per model
        print(domain, "  ".join(f"{column}={cell['mean']:.3f}" for column, cell in cells.items()))
    print(f"report: {result.report}")


if __name__ == "__main__":
    main()
