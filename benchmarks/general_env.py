"""The `general` env's sandboxed tool calls: a persistent worker per env (ours) vs one sandboxed process per call.

Also times offline synthesis of N tasks with the procedural generators. Run: ``python benchmarks/general_env.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time

from agentgym.api import Action, ToolCall
from agentgym.envs.general import GeneralEnv
from agentgym.sandbox import LocalSandbox
from agentgym.synth.general import Pipeline, PipelineConfig, ProceduralGenerator

NUM_CALLS = 100
ONE_SHOT = '''
import json, sqlite3, sys
namespace = {}
exec(open("tools.py").read(), namespace)
db = sqlite3.connect("db.sqlite")
request = json.loads(sys.stdin.read())
print(json.dumps(namespace[request["name"]](db, **request["arguments"])))
'''


async def persistent(task, call) -> float:
    env = GeneralEnv(max_turns=NUM_CALLS + 1)
    try:
        await env.reset(task, seed=0)
        started = time.perf_counter()
        for _ in range(NUM_CALLS):
            await env.step(Action(tool_calls=[ToolCall(id="c", name=call["name"], arguments=call["arguments"])]))
        return (time.perf_counter() - started) / NUM_CALLS
    finally:
        await env.close()


def one_shot(task, call, root) -> float:
    folder = root / task.data["env_dir"]
    with LocalSandbox() as box:
        box.write_file("tools.py", (folder / "tools.py").read_text())
        box.write_file("db.sqlite", (folder / "db.sqlite").read_bytes())
        started = time.perf_counter()
        num = NUM_CALLS // 10
        for _ in range(num):
            result = box.run_python(ONE_SHOT, stdin=json.dumps(call))
            assert result.ok, result.stderr
        return (time.perf_counter() - started) / num


def main() -> None:
    from agentgym.envs.general.builtin import builtin_root

    env = GeneralEnv()
    task = next(t for t in env.sample_tasks(20, seed=0) if t.data["reference"]["calls"])
    call = task.data["reference"]["calls"][0]
    ours = asyncio.run(persistent(task, call))
    baseline = one_shot(task, call, builtin_root())
    print(f"tool call latency: persistent worker {ours * 1000:.2f} ms, one process per call (baseline) "
          f"{baseline * 1000:.1f} ms, speed-up {baseline / ours:.0f}x")
    num_tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    generator = ProceduralGenerator()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        pipeline = Pipeline(generator, out, PipelineConfig(categories=tuple(generator.categories()),
                                                           num_tasks=num_tasks))  # fmt: skip
        funnel = asyncio.run(pipeline.run())
        wall = time.perf_counter() - started
    print(f"synthesis: {funnel.tasks['stored']} tasks from {funnel.num_units} units in {wall:.1f} s "
          f"({wall / max(1, funnel.tasks['stored']) * 1000:.0f} ms per stored task); funnel {funnel.tasks}")


if __name__ == "__main__":
    main()
