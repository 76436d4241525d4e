"""Evaluate a policy on one or more envs and write the report: pass@k, pass^k, reward CI, plots, trajectories.

Run it:
    python examples/evaluate.py                                   # a scripted, sometimes-wrong arith agent
    python examples/evaluate.py --policy openai:MODEL@http://127.0.0.1:8000/v1 --n 8   # any OpenAI-compatible server
Then open runs/evaluate/report.md, or `agentgym show runs/evaluate/trajectories/arith.jsonl --index 0`.
AGENTGYM_SMOKE=1 makes the run tiny (the tests use it). The same run from the shell:
    agentgym eval --env arith --policy openai:MODEL@URL --n 8 --out-dir runs/evaluate
"""

from __future__ import annotations

import argparse
import os
import random
import re
from pathlib import Path

from agentgym.api import Action, ToolCall
from agentgym.eval import EvalConfig, run_eval
from agentgym.rollout import ScriptedPolicy

EXPRESSION = re.compile(r"Compute the value of (?P<expr>.+?)\. Use")


def make_sloppy_agent(p_slip: float, seed: int = 0):
    """An arith agent that uses the calculator, then submits the result, but miscopies it with probability p_slip.

    A policy that is right only some of the time gives pass@k something to show: pass@k rises with k, pass^k falls.
    """
    rng = random.Random(seed)

    def act(messages, tools) -> Action:
        last = messages[-1]
        if last.role == "tool" and last.name == "calculator":
            answer = float(last.content) + (1 if rng.random() < p_slip else 0)
            return Action(tool_calls=[ToolCall(id="submit", name="submit", arguments={"answer": answer})])
        match = EXPRESSION.search(next(m.content for m in messages if m.role == "user"))
        expression = match["expr"] if match else "0"
        return Action(reasoning="I will let the calculator do the arithmetic.",
                      tool_calls=[ToolCall(id="calc", name="calculator", arguments={"expression": expression})])

    return act


def main() -> None:
    is_smoke = os.environ.get("AGENTGYM_SMOKE") == "1"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="arith", help="comma-separated env names")
    parser.add_argument("--policy", default="sloppy",
                        help="'sloppy' (the scripted agent above), 'openai:MODEL@URL', 'scripted:FILE', "
                             "'reference:P'")
    parser.add_argument("--n", type=int, default=4 if is_smoke else 8, help="samples per task")
    parser.add_argument("--num-tasks", type=int, default=4 if is_smoke else 32, help="tasks per env")
    parser.add_argument("--out-dir", type=Path, default=Path("runs/evaluate"))
    args = parser.parse_args()

    policy = ScriptedPolicy(make_sloppy_agent(p_slip=0.3)) if args.policy == "sloppy" else args.policy
    config = EvalConfig(envs=tuple(args.env.split(",")), num_samples=args.n, num_tasks=args.num_tasks,
                        concurrency=16, max_turns=8, progress=not is_smoke)
    for m in run_eval(config, policy, args.out_dir):
        curve = "  ".join(f"pass@{k}={v:.2f}" for k, v in m.pass_at_k.items())
        print(f"{m.env}: {curve}  pass^{m.num_samples}={m.pass_hat_k[m.num_samples]:.2f}  "
              f"reward {m.mean_reward:.3f} [{m.reward_ci_low:.3f}, {m.reward_ci_high:.3f}]  turns {m.mean_turns:.1f}")
    print(f"report: {args.out_dir / 'report.md'}")


if __name__ == "__main__":
    main()
