"""Early-stopping pass@100 filter vs the naive filter (100 attempts per task), measured in the same run.

Part A — simulated policies with KNOWN per-task success probabilities on `arith` tasks. The mix is fixed in advance:
30 % unsolvable (p = 0), 65 % solvable with p ~ U(0.05, 1), 5 % hard tail with p log-uniform in [0.001, 0.05].
Attempt j of task i succeeds iff U(seed, i, j) < p_i, the same stream in both runs, so "same decision" compares the
two filters on identical attempts. A closed-form table shows how agreement and saving move with the hard-tail share.

Part B — a real tool-using policy on real generated tasks: the search env's starter tasks, played by a noisy copy of
the env's oracle (each turn, with a per-task probability ε, it makes a wrong move instead). Success rates are not
known in advance; both filters see the same attempt streams.

Run: .venv/bin/python benchmarks/passk_filter.py [--num-tasks 1000] [--num-search-tasks 120]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from agentgym.synth.filter import FilterResult, run_filter
from agentgym.synth.filter_rules import FilterConfig

import agentgym
from agentgym.api import Action, Message, Task, ToolCall, ToolSpec
from agentgym.rollout import PolicyStep


class StreamPolicy:
    """Episode j of a task draws its randomness from Random(f"{seed}|{task}|{j}"), j counted per task."""

    def __init__(self, tasks: Sequence[Task], seed: int) -> None:
        self.by_prompt = {t.prompt: t for t in tasks}
        self.seed = seed
        self.attempts: Counter[str] = Counter()
        self.episodes: dict[int, tuple[Task, random.Random]] = {}

    def episode(self, messages: Sequence[Message]) -> tuple[Task, random.Random]:
        key = id(messages)  # the agent loop appends to one list per episode
        if not any(m.role == "assistant" for m in messages) or key not in self.episodes:
            task = self.by_prompt[next(m.content for m in messages if m.role == "user")]
            j = self.attempts[task.id]
            self.attempts[task.id] += 1
            self.episodes[key] = (task, random.Random(f"{self.seed}|{task.id}|{j}"))
        return self.episodes[key]


class KnownPPolicy(StreamPolicy):
    """Submits the right arith answer with the task's known probability p (``task.meta["p"]``)."""

    async def act(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> PolicyStep:
        task, rng = self.episode(messages)
        answer = task.data["answer"] + (0 if rng.random() < task.meta["p"] else 1)
        return PolicyStep(action=Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": answer})]))


class NoisyOraclePolicy(StreamPolicy):
    """The search env's oracle, but each turn with probability ε (``task.meta["noise"]``) it searches a wrong word,
    looks in the wrong place or gives up: a tool-using agent whose success rate nobody wrote down."""

    def __init__(self, tasks: Sequence[Task], seed: int) -> None:
        super().__init__(tasks, seed)
        from agentgym.envs.search.oracle import oracle_action

        self.oracle = oracle_action

    async def act(self, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> PolicyStep:
        task, rng = self.episode(messages)
        action = self.oracle(messages, tools)
        if rng.random() < task.meta["noise"]:
            action = _mistake(action, rng)
        return PolicyStep(action=action)


def _mistake(action: Action, rng: random.Random) -> Action:
    call = action.tool_calls[0]
    args = dict(call.arguments) if isinstance(call.arguments, dict) else {}
    if call.name == "search":
        words = re.findall(r"\w+", args.get("query", "")) or ["python"]
        args = {"query": rng.choice(words)[:3] + " overview", "k": 1}
    elif call.name == "find":
        args["pattern"] = "Kind:"
    else:
        args = {"answer": "I could not find it"}
    return Action(tool_calls=[ToolCall(id=call.id, name=call.name, arguments=args)])


def known_p_tasks(n: int, seed: int) -> list[Task]:
    rng = random.Random(seed)
    tasks = agentgym.make("arith").sample_tasks(n, seed=seed)
    out = []
    for t in tasks:
        u = rng.random()
        if u < 0.30:
            p = 0.0
        elif u < 0.95:
            p = rng.uniform(0.05, 1.0)
        else:
            p = math.exp(rng.uniform(math.log(1e-3), math.log(5e-2)))
        out.append(t.model_copy(update={"meta": {**t.meta, "p": p}}))
    return out


async def compare(tasks: list[Task], make_policy: Any, config: FilterConfig, label: str) -> dict[str, Any]:
    start = time.perf_counter()
    early = await run_filter(tasks, make_policy(), config, progress=False)
    early_s = time.perf_counter() - start
    start = time.perf_counter()
    naive = await run_filter(tasks, make_policy(), FilterConfig(k=config.k, sequential=False,
                                                                 concurrency=config.concurrency), progress=False)
    naive_s = time.perf_counter() - start
    return report(label, tasks, early, naive, early_s, naive_s)


def report(label: str, tasks: list[Task], early: FilterResult, naive: FilterResult, early_s: float,
           naive_s: float) -> dict[str, Any]:
    same = sum(a.is_kept == b.is_kept for a, b in zip(early.states, naive.states, strict=True))
    rules = Counter(s.stopped_by for s in early.states)
    row = {"label": label, "tasks": len(tasks), "agree": same / len(tasks), "early_attempts": early.num_episodes,
           "naive_attempts": naive.num_episodes, "ratio": naive.num_episodes / early.num_episodes,
           "kept_early": len(early.kept), "kept_naive": len(naive.kept), "early_s": early_s, "naive_s": naive_s}
    print(f"\n== {label}: {len(tasks)} tasks ==")
    print(f"  naive 100-attempt filter : {naive.num_episodes:>7} attempts, kept {len(naive.kept)}, {naive_s:.1f} s")
    print(f"  early-stopping filter    : {early.num_episodes:>7} attempts, kept {len(early.kept)}, {early_s:.1f} s")
    print(f"  ratio naive/early        : {row['ratio']:.2f}x fewer attempts ({naive_s / early_s:.2f}x less time)")
    print(f"  same keep/drop decision  : {same}/{len(tasks)} = {100 * row['agree']:.2f} %")
    print(f"  stopping rules           : {dict(rules)}")
    return row


def expected_cost(p: float, config: FilterConfig) -> float:
    """Expected attempts of the early-stopping filter for success rate p (closed form over the round schedule)."""
    n, total, alive, r = 0, 0.0, 1.0, 0
    cap = min(config.k, config.drop_test.failures_to_accept_h0(0, 0)) if config.drop_test else config.k
    while n < cap:
        b = min(config.round_size(r), cap - n)
        total += alive * b
        alive *= (1 - p) ** b
        n, r = n + b, r + 1
    return total


def sensitivity(config: FilterConfig) -> None:
    """Agreement and saving by share of hard-tail tasks (30 % unsolvable kept fixed), by numeric integration."""
    n0 = config.drop_test.failures_to_accept_h0(0, 0)
    grid = [math.exp(math.log(1e-3) + (math.log(5e-2) - math.log(1e-3)) * (i + 0.5) / 400) for i in range(400)]
    tail_disagree = sum((1 - p) ** n0 - (1 - p) ** config.k for p in grid) / len(grid)
    tail_cost = sum(expected_cost(p, config) for p in grid) / len(grid)
    solvable = [0.05 + 0.95 * (i + 0.5) / 400 for i in range(400)]
    solvable_cost = sum(expected_cost(p, config) for p in solvable) / len(solvable)
    print("\n== closed form: share of hard-tail tasks (p log-uniform in [0.001, 0.05]); 30 % have p = 0 ==")
    print("  hard-tail share | expected agreement | expected saving (naive/early)")
    for share in (0.0, 0.02, 0.05, 0.10, 0.20):
        cost = 0.30 * expected_cost(0.0, config) + (0.70 - share) * solvable_cost + share * tail_cost
        print(f"  {100 * share:>14.0f} % | {100 * (1 - share * tail_disagree):>17.2f} % | {config.k / cost:>6.2f}x")


def search_tasks(n: int, seed: int) -> list[Task]:
    rng = random.Random(seed)
    tasks = agentgym.make("search").sample_tasks(n, seed=seed)
    out = []
    for t in tasks:
        u = rng.random()
        noise = 1.0 if u < 0.3 else rng.uniform(0.75, 0.9) if u < 0.4 else rng.uniform(0.0, 0.5)
        out.append(t.model_copy(update={"meta": {**t.meta, "noise": noise}}))
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-tasks", type=int, default=1000)
    parser.add_argument("--num-search-tasks", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = FilterConfig(k=100, concurrency=32)
    print(f"config: k={config.k}, rounds {config.first_round_size}·{config.growth:g}^r, drop test {config.drop_test}")
    tasks = known_p_tasks(args.num_tasks, args.seed)
    a = await compare(tasks, lambda: KnownPPolicy(tasks, args.seed), config, "A: known p (arith, simulated policy)")
    sensitivity(config)
    if args.num_search_tasks:
        stasks = search_tasks(args.num_search_tasks, args.seed)
        b = await compare(stasks, lambda: NoisyOraclePolicy(stasks, args.seed), config,
                          "B: search starter tasks, noisy oracle agent")
        print(f"\nsummary: A {a['ratio']:.2f}x fewer attempts, {100 * a['agree']:.2f} % agree; "
              f"B {b['ratio']:.2f}x, {100 * b['agree']:.2f} %")


if __name__ == "__main__":
    asyncio.run(main())
