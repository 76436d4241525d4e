"""Tool-call parsing speed: `agentgym.tools.parse_tool_calls` against a naive regex + json.loads Hermes parser.

The baseline is what most serving stacks do (one `<tool_call>(.*?)</tool_call>` regex, then `json.loads` per match),
measured in the same run on the same texts. Usage: `python benchmarks/tool_parse.py [--repeat 2000]`.
"""

from __future__ import annotations

import argparse
import json
import re
import time

from agentgym.api import ToolCall
from agentgym.tools import parse_tool_calls, render_tool_calls

_NAIVE = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


def naive_hermes(text: str) -> list[tuple[str, object]]:
    """The baseline: no error messages, no unclosed-block detection, no DeepSeek, no salvage."""
    out = []
    for body in _NAIVE.findall(text):
        try:
            obj = json.loads(body)
            out.append((obj["name"], obj.get("arguments", {})))
        except (ValueError, KeyError, TypeError):
            pass
    return out


def texts() -> dict[str, str]:
    code = 'def f(x):\n    return {"a": [x, "}"]}\n' * 20
    calls = [ToolCall(name="python", arguments={"code": code}), ToolCall(name="submit", arguments={"answer": 42})]
    prose = "Let me think about this step by step. " * 40
    return {
        "one short call": prose + render_tool_calls(calls[1:], "hermes"),
        "two calls, 1 kB code": prose + render_tool_calls(calls, "hermes"),
        "no call (prose only)": prose * 3,
    }


def bench(fn, text: str, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn(text)
    return (time.perf_counter() - start) / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    print(f"{'text':24s} {'chars':>6s} {'agentgym µs':>12s} {'naive µs':>9s} {'ratio':>6s}")
    for label, text in texts().items():
        ours = bench(lambda t: parse_tool_calls(t, "hermes"), text, args.repeat)
        base = bench(naive_hermes, text, args.repeat)
        print(f"{label:24s} {len(text):6d} {ours:12.1f} {base:9.1f} {ours / base:6.2f}x")
    worst = "<tool_call>x" * 20_000
    start = time.perf_counter()
    parse_tool_calls(worst)
    print(f"adversarial: 20,000 unclosed blocks ({len(worst)} chars) parsed in {time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
