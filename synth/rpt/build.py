"""Build an RPT task file from a corpus and a proxy: `python -m agentgym.synth.rpt --out tasks.jsonl`.

`SHIPPED_*` pin how `envs/rpt/data/tasks.jsonl` was made, so a test can rebuild it and compare.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from agentgym.api import Task
from agentgym.synth.rpt.corpus import Document, load_corpus
from agentgym.synth.rpt.generate import RptTaskConfig, generate_tasks
from agentgym.synth.rpt.proxy import BigramProxy, NextTokenProxy
from agentgym.taskio import save_tasks

PROXIES = ("bigram", "smollm2-135m")
SHIPPED_SOURCE = "python-docs"
SHIPPED_PROXY = "bigram"
SHIPPED_NUM_TASKS = 100
SHIPPED_SEED = 0
SHIPPED_CONFIG = RptTaskConfig(max_prefix_chars=600)


def make_proxy(name: str, docs: Sequence[Document]) -> NextTokenProxy:
    """`"bigram"`: fit on `docs` (fast, no model); `"smollm2-135m"`: the model core's SmolLM2 (slow on CPU)."""
    if name == "bigram":
        return BigramProxy([d.text for d in docs])
    if name == "smollm2-135m":
        from agentgym.synth.rpt.model_proxy import ModelProxy

        return ModelProxy.pretrained(name)
    raise ValueError(f"proxy must be one of {list(PROXIES)}, got {name!r}")


def build_tasks(source: str = SHIPPED_SOURCE, proxy: str = SHIPPED_PROXY, n: int = SHIPPED_NUM_TASKS, *,
                seed: int = SHIPPED_SEED, config: RptTaskConfig = SHIPPED_CONFIG) -> list[Task]:
    """Tasks from a corpus source (`"python-docs"` or a folder) under a named proxy. The defaults rebuild the shipped
    task file."""
    docs = load_corpus(source)
    return generate_tasks(docs, make_proxy(proxy, docs), n, seed=seed, config=config)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentgym.synth.rpt", description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=SHIPPED_SOURCE, help="'python-docs' or a folder of .txt/.md/.rst files")
    parser.add_argument("--proxy", default=SHIPPED_PROXY, choices=PROXIES)
    parser.add_argument("--n", type=int, default=SHIPPED_NUM_TASKS, help="number of tasks")
    parser.add_argument("--seed", type=int, default=SHIPPED_SEED)
    parser.add_argument("--min-entropy-bits", type=float, default=SHIPPED_CONFIG.min_entropy_bits)
    parser.add_argument("--num-tokens", type=int, default=SHIPPED_CONFIG.num_tokens)
    parser.add_argument("--max-prefix-chars", type=int, default=SHIPPED_CONFIG.max_prefix_chars)
    parser.add_argument("--out", required=True, type=Path, help="the JSONL task file to write")
    args = parser.parse_args(argv)
    try:
        config = RptTaskConfig(min_entropy_bits=args.min_entropy_bits, num_tokens=args.num_tokens,
                               max_prefix_chars=args.max_prefix_chars,
                               max_continuation_tokens=max(SHIPPED_CONFIG.max_continuation_tokens, args.num_tokens))
        tasks = build_tasks(args.source, args.proxy, args.n, seed=args.seed, config=config)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    save_tasks(args.out, tasks)
    print(f"wrote {len(tasks)} tasks to {args.out}")
    return 0
