"""Search env performance: index build time and queries/s of our bm25s index vs `rank-bm25`, plus env tool calls/s.

Both engines index the same passages, tokenized by the same tokenizer, and answer the same queries (task queries,
titles and phrases drawn from the python-docs corpus). The baseline `rank-bm25` (`BM25Okapi`) is measured in the same
run. Usage: `python benchmarks/search.py [--queries 300]`. Needs `pip install 'agentgym-rl[search]' rank-bm25`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np

from agentgym.api import Action, Task, ToolCall
from agentgym.envs.search import SearchEnv, build_index
from agentgym.envs.search.index import LocalIndex
from agentgym.envs.search.oracle import oracle_action
from agentgym.rollout import RolloutConfig, ScriptedPolicy, run_episodes


def make_queries(index: LocalIndex, num_queries: int) -> list[str]:
    """Deterministic queries: the searches the starter tasks need, then document titles."""
    env = SearchEnv(backend=index)
    queries = []
    for task in env.sample_tasks(num_queries // 2, seed=0):
        params = task.data["params"]
        queries.append(params.get("name") or params.get("qualified") or params["phrase"])
    step = max(1, len(index.documents) // (num_queries - len(queries)))
    queries += [d.title for d in index.documents[::step]]
    return queries[:num_queries]


def passage_tokens(index: LocalIndex) -> list[list[str]]:
    passages = np.load(index.path / "passages.npy")
    return [index.tokenizer(index.documents[d].title + "\n" + index.documents[d].text[s:e]) for d, s, e in passages]


def time_it(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def bench_engines(index: LocalIndex, queries: list[str]) -> dict:
    import bm25s
    import rank_bm25

    tokens, tokenize_s = time_it(passage_tokens, index)
    _, ours_build_s = time_it(lambda: bm25s.BM25().index(tokens, show_progress=False))
    baseline, baseline_build_s = time_it(rank_bm25.BM25Okapi, tokens)
    query_tokens = [index.tokenizer(q) for q in queries]

    def run_ours() -> list[str | None]:
        return [next((h.id for h in index.search(q, 5)), None) for q in queries]

    def run_baseline() -> list[str | None]:
        passages = np.load(index.path / "passages.npy")
        top = []
        for toks in query_tokens:
            scores = baseline.get_scores(toks)
            best = int(np.argmax(scores))
            top.append(index.documents[int(passages[best][0])].id if scores[best] > 0 else None)
        return top

    def run_bm25s_batch() -> None:
        retriever = index._retriever  # the raw bm25s batch API, without snippets or per-document grouping
        vocab = retriever.vocab_dict
        ids = [[vocab[t] for t in toks if t in vocab] or [vocab[""]] for toks in query_tokens]
        retriever.retrieve(ids, k=5, show_progress=False)

    ours_top, ours_s = time_it(run_ours)
    base_top, base_s = time_it(run_baseline)
    _, batch_s = time_it(run_bm25s_batch)
    answered = [(a, b) for a, b in zip(ours_top, base_top, strict=True) if a is not None and b is not None]
    agree = sum(a == b for a, b in answered) / max(1, len(answered))
    return {"num_passages": len(tokens), "tokenize_s": tokenize_s, "ours_build_s": ours_build_s,
            "baseline_build_s": baseline_build_s, "ours_qps": len(queries) / ours_s,
            "batch_qps": len(queries) / batch_s, "baseline_qps": len(queries) / base_s, "top1_agreement": agree}


async def tool_calls_per_second(index: LocalIndex, num_calls: int) -> float:
    env = SearchEnv(backend=index)
    await env.reset(Task(id="b", env="search", prompt="bench", data={"answer": "x"}), seed=0)
    calls = [("search", {"query": "json dumps"}), ("open", {"doc_id": "json.dumps"}),
             ("find", {"doc_id": "json.dumps", "pattern": "indent"}), ("search", {"query": "augmented assignment"}),
             ("open", {"doc_id": "topic:assignment", "offset": 2000}), ("find", {"doc_id": "os", "pattern": "^Functions"})]
    env.max_turns = num_calls + 1
    start = time.perf_counter()
    for i in range(num_calls):
        name, args = calls[i % len(calls)]
        if name == "find" and args["pattern"].startswith("^"):
            args = dict(args, regex=True)
        result = await env.step(Action(tool_calls=[ToolCall(id=str(i), name=name, arguments=args)]))
        assert result.error is None, result.observation.text
    return num_calls / (time.perf_counter() - start)


def oracle_episodes(index: LocalIndex, num_tasks: int) -> dict:
    tasks = SearchEnv(backend=index).sample_tasks(num_tasks, seed=11)
    config = RolloutConfig(concurrency=32, max_turns=8, progress=False)
    start = time.perf_counter()
    trajs = asyncio.run(run_episodes(lambda: SearchEnv(backend=index), ScriptedPolicy(oracle_action), tasks, config))
    seconds = time.perf_counter() - start
    calls = sum(len(m.tool_calls) for t in trajs for m in t.messages)
    return {"episodes": len(trajs), "solved": sum(t.reward == 1.0 for t in trajs), "calls_per_s": calls / seconds,
            "episodes_per_s": len(trajs) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--tool-calls", type=int, default=3000)
    parser.add_argument("--episodes", type=int, default=400)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        info, full_build_s = time_it(build_index, "python-docs", Path(tmp) / "idx")
        index = LocalIndex(info.path)
        queries = make_queries(index, args.queries)
        engines = bench_engines(index, queries)
        calls_per_s = asyncio.run(tool_calls_per_second(index, args.tool_calls))
        oracle = oracle_episodes(index, args.episodes)

    print(f"corpus: python-docs ({info.num_documents} documents, {engines['num_passages']} passages); "
          f"full build_index (stdlib walk + tokenize + index + write): {full_build_s:.2f} s")
    print(f"shared tokenization of all passages: {engines['tokenize_s']:.2f} s; {len(queries)} queries")
    print()
    print(f"{'':34}{'ours (bm25s)':>14}{'rank-bm25':>12}{'ratio':>9}")
    print(f"{'index build, s (lower is better)':34}{engines['ours_build_s']:>14.3f}{engines['baseline_build_s']:>12.3f}"
          f"{engines['baseline_build_s'] / engines['ours_build_s']:>8.1f}x")
    ratio = engines["ours_qps"] / engines["baseline_qps"]
    print(f"{'queries/s, top-5 with snippets':34}{engines['ours_qps']:>14.0f}{engines['baseline_qps']:>12.1f}"
          f"{ratio:>8.1f}x")
    print(f"{'queries/s, raw bm25s batch':34}{engines['batch_qps']:>14.0f}{engines['baseline_qps']:>12.1f}"
          f"{engines['batch_qps'] / engines['baseline_qps']:>8.1f}x")
    print(f"top-1 document agreement with rank-bm25 (Okapi vs Lucene idf): {engines['top1_agreement']:.0%}")
    print(f"target >= 10x queries/s: {'MET' if ratio >= 10 else 'MISSED'}")
    print()
    print(f"search env, sequential tool calls (search/open/find mix): {calls_per_s:.0f} calls/s")
    print(f"search env, oracle episodes at concurrency 32: {oracle['episodes_per_s']:.0f} episodes/s, "
          f"{oracle['calls_per_s']:.0f} tool calls/s, solved {oracle['solved']}/{oracle['episodes']}")


if __name__ == "__main__":
    main()
