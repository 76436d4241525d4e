"""Synthesize general-agent tasks offline, then keep only those a policy solves at least once in k attempts.

Run it: `python examples/synthesize_tasks.py` (AGENTGYM_SMOKE=1 makes it tiny; the tests use that).
The same from the shell:
    agentgym synth general --category all --n 40 --out runs/synth
    agentgym filter --tasks runs/synth/tasks.jsonl --policy openai:MODEL@URL --k 100
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import agentgym
from agentgym.checker import mutate_action
from agentgym.rollout import ScriptedPolicy
from agentgym.synth.filter import FilterConfig, run_filter
from agentgym.app.synth_cli import synth_general_command
from agentgym.taskio import load_tasks


def noisy_reference_policy(tasks, success_rate: dict[str, float], seed: int = 0) -> ScriptedPolicy:
    """Plays each task's reference solution with a per-task success rate; otherwise submits a near-miss answer.

    A stand-in for a real model: some tasks it solves often, some rarely, some never (rate 0).
    """
    env = agentgym.make("general")
    by_prompt = {t.prompt: t for t in tasks}
    rng = random.Random(seed)

    def act(messages, tools):
        user = next(m.content for m in messages if m.role == "user")
        task = next(t for prompt, t in by_prompt.items() if user.startswith(prompt))  # the env appends the schema
        reference = env.reference_action(task)
        if any(m.role == "tool" for m in messages):  # the reference acts in one step; a second turn is a miss
            return mutate_action(reference)
        return reference if rng.random() < success_rate[task.id] else mutate_action(reference)

    return ScriptedPolicy(act)


def main() -> None:
    is_smoke = os.environ.get("AGENTGYM_SMOKE") == "1"
    out = Path("runs/synthesize_tasks")

    # 1. Synthesize: DB + tools + task + solution + verifier, checked, escalated, deduplicated, stored.
    funnel = synth_general_command("all", 6 if is_smoke else 40, out, seed=0, progress=not is_smoke)
    tasks = load_tasks(out / "tasks.jsonl")
    print(f"synthesized {len(tasks)} tasks across {len({t.meta['category'] for t in tasks})} categories")

    # 2. Filter with pass@k: stop a task at its first success, drop it early (SPRT) when failure is all but certain.
    rng = random.Random(1)
    rates = {t.id: rng.choice([0.0, 0.02, 0.2, 0.8]) for t in tasks}  # a third of the tasks are unsolvable
    config = FilterConfig(k=100 if not is_smoke else 32, concurrency=8, max_turns=4)
    result = asyncio.run(run_filter(tasks, noisy_reference_policy(tasks, rates), config, progress=not is_smoke,
                                    policy_name="noisy-reference"))
    print(f"kept {len(result.kept)}/{len(tasks)} tasks using {result.num_episodes} episodes "
          f"(naive filtering would use {result.num_naive_episodes})")
    for task in result.kept[:3]:
        stats = task.meta["passk"][-1]
        print(f"  {task.id}: {stats['num_successes']}/{stats['num_attempts']} solved, stopped by {stats['stopped_by']}")
    assert funnel is not None and all(rates[t.id] > 0 for t in result.kept), "an unsolvable task was kept"


if __name__ == "__main__":
    main()
