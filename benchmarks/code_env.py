"""code_repair overhead: episode reset and `run_tests` latency against running the same things directly on the host.

Baselines, measured in the same run: reset vs `shutil.copytree` of the snapshot plus applying the bug (plain file
writes); `run_tests` (sandboxed pytest + JUnit parse) vs `subprocess.run` of the same pytest command on a host copy.
With `--synth N`: the synthesis pipeline's time for N tasks as configured by default (one reused copy per worker,
recheck of the failing tests only) vs the plain way (a fresh sandbox copy per run, the whole suite run again).
Usage: python benchmarks/code_env.py [--project isodate==0.7.2] [--repeats 5] [--synth 20 --workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from agentgym.api import Action, ToolCall
from agentgym.envs.code_repair import CodeRepairEnv
from agentgym.envs.code_repair.patch import apply_patch, patched_paths
from agentgym.envs.code_repair.snapshot import materialize
from agentgym.envs.code_repair.taskdata import expand_path, parse_task_data
from agentgym.envs.code_repair.testrun import test_command, test_environment
from agentgym.synth.code.pipeline import SynthConfig, synthesize
from agentgym.synth.code.projects import resolve_project
from agentgym.taskio import load_tasks


def direct_reset(snapshot: str, bug_patch: str, dest: str) -> None:
    shutil.copytree(snapshot, dest, symlinks=True)
    files = {p: open(os.path.join(dest, p)).read() for p in patched_paths(bug_patch)}
    for p, text in apply_patch(files, bug_patch).items():
        with open(os.path.join(dest, p), "w") as f:
            f.write(text or "")


async def measure(task, repeats: int) -> dict[str, list[float]]:
    data = parse_task_data(task.data)
    snapshot = str(materialize(expand_path(data.repo)))
    env = CodeRepairEnv()
    times: dict[str, list[float]] = {"reset": [], "copy": [], "run_tests": [], "pytest": []}
    call = Action(tool_calls=[ToolCall(id="t", name="run_tests", arguments={})])
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            await env.reset(task, seed=0)
            times["reset"].append(time.perf_counter() - start)
            start = time.perf_counter()
            await env.step(call)
            times["run_tests"].append(time.perf_counter() - start)
            with tempfile.TemporaryDirectory() as tmp:
                dest = os.path.join(tmp, "repo")
                start = time.perf_counter()
                direct_reset(snapshot, data.bug_patch, dest)
                times["copy"].append(time.perf_counter() - start)
                run_data = data.model_copy(update={"venv": expand_path(data.venv)}) if data.venv else data
                python = f"{run_data.venv}/bin/python" if run_data.venv else env.python_executable
                argv = test_command(python, [], os.path.join(tmp, "junit.xml"), data.test_args)
                start = time.perf_counter()
                subprocess.run(argv, cwd=dest, env={**os.environ, **test_environment(run_data, dest)},
                               capture_output=True, check=False)  # fmt: skip
                times["pytest"].append(time.perf_counter() - start)
    finally:
        await env.close()
    return times


def compare_synthesis(project: str, n: int, num_workers: int) -> None:
    spec = resolve_project(project)
    seconds = {}
    for label, kwargs in (("default", {}), ("plain", {"can_reuse_workdir": False, "recheck_scope": "suite"})):
        out = os.path.join(tempfile.mkdtemp(), "tasks.jsonl")
        start = time.perf_counter()
        funnel = synthesize(SynthConfig(project=spec, out=out, n=n, num_workers=num_workers, min_timeout_s=10.0,
                                        **kwargs))  # fmt: skip
        seconds[label] = time.perf_counter() - start
        print(f"{label}: {funnel.summary().splitlines()[1]}; {seconds[label]:.1f} s")
    print(f"synthesis of {n} tasks of {project}, {num_workers} workers: default {seconds['default']:.1f} s, "
          f"plain {seconds['plain']:.1f} s, ratio {seconds['plain'] / seconds['default']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", default="isodate==0.7.2")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--synth", type=int, default=0, help="compare synthesis of this many tasks (instead of the env timings)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.synth:
        compare_synthesis(args.project, args.synth, args.workers)
        return
    out = os.path.join(tempfile.mkdtemp(), "tasks.jsonl")
    synthesize(SynthConfig(project=resolve_project(args.project), out=out, n=1, num_workers=1))
    task = load_tasks(out)[0]
    t = asyncio.run(measure(task, args.repeats))
    med = {k: statistics.median(v) for k, v in t.items()}
    print(f"project {args.project}, {args.repeats} repeats, medians")
    print(f"{'':>12} {'code_repair':>12} {'direct':>10} {'ratio':>7}")
    print(f"{'reset':>12} {med['reset']:>11.3f}s {med['copy']:>9.3f}s {med['reset'] / med['copy']:>6.2f}x")
    print(f"{'run_tests':>12} {med['run_tests']:>11.3f}s {med['pytest']:>9.3f}s {med['run_tests'] / med['pytest']:>6.2f}x")


if __name__ == "__main__":
    main()
