"""Every env plays the tasks of its kind it is handed, through the task-source path a training run takes:
`EnvMix.tasks` -> `build_run_tasks` -> the env factory's kwargs -> reset + the reference solution -> reward 1.

Tasks come from the real synthesis functions (code_repair: `synth.code` on the bundled `minilib` project; search:
`synth.search` over an index of its own) or, for task-file envs (jupyter, rpt) and SWE-bench records, from the env's
own tasks or a hand-made record saved as a task file. `general` is covered in tests/rl/test_loop.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tarfile
from pathlib import Path

import pytest

from agentgym.api import Task
from agentgym.rl.build import default_env_factory
from agentgym.rl.config import parse_config
from agentgym.rl.pools import build_run_tasks
from agentgym.taskio import load_tasks, save_tasks


def play_through_source(env: str, tasks: Path | str, **extra: object) -> tuple[list[float], dict]:
    """(reference reward of every task in the pool the run builds from `tasks`, the kwargs its env is made with)."""
    config = parse_config({"envs": [{"name": env, "tasks": str(tasks), **extra}], "progress": False})
    factory = default_env_factory(config)
    run = build_run_tasks(config, factory)
    from agentgym.rl.pools import env_kwargs

    kwargs = env_kwargs(config.envs[0])

    async def play() -> list[float]:
        rewards = []
        async with factory(env) as made:
            for task in run.pools[0].tasks:
                await made.reset(task, seed=0)
                rewards.append((await made.step(made.reference_action(task))).reward)
        return rewards

    return asyncio.run(play()), kwargs


@pytest.mark.slow
def test_code_repair_plays_synthesized_tasks_also_with_a_shipped_relative_snapshot(tmp_path):
    from agentgym.envs.code_repair.taskdata import expand_path
    from agentgym.envs.code_repair.fixture_repo import write_repo
    from agentgym.synth.code.pipeline import SynthConfig, synthesize
    from agentgym.synth.code.projects import resolve_project

    project = write_repo(tmp_path / "minilib")
    out = tmp_path / "synth" / "code.jsonl"
    funnel = synthesize(SynthConfig(project=resolve_project(str(project)), out=out, n=2, seed=0, num_workers=1))
    assert funnel.kept == 2
    rewards, kwargs = play_through_source("code_repair", out)
    assert rewards == [1.0, 1.0] and "root" not in kwargs  # $AGENTGYM_CACHE paths: nothing to add

    # The same tasks shipped with their snapshot as an archive beside the task file (relative `repo`): root = folder.
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    snapshot = Path(expand_path(load_tasks(out)[0].data["repo"]))
    with tarfile.open(shipped / "minilib.tar.gz", "w:gz") as tar:
        tar.add(snapshot, arcname="minilib")
    save_tasks(shipped / "tasks.jsonl", [t.model_copy(update={"data": {**t.data, "repo": "minilib.tar.gz"}})
                                         for t in load_tasks(out)])
    rewards, kwargs = play_through_source("code_repair", shipped)
    assert rewards == [1.0, 1.0] and kwargs == {"root": str(shipped.resolve())}


def test_code_repair_plays_swebench_records_from_a_task_file(tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1] / "envs" / "code_repair"))
    from test_code_repair_swebench import BROKEN, instance

    from agentgym.envs.code_repair.fixture_repo import write_repo
    from agentgym.envs.code_repair.swebench import load_swebench

    checkout = write_repo(tmp_path / "checkout")
    (checkout / "minilib" / "seqs.py").write_text(BROKEN)
    file = save_tasks(tmp_path / "swe.jsonl", load_swebench([instance()], {"minilib/minilib": checkout}))
    rewards, _ = play_through_source("code_repair", file)
    assert rewards == [1.0]


@pytest.mark.slow
def test_search_plays_synthesized_tasks_over_the_index_they_were_built_on(tmp_path, monkeypatch):
    from agentgym.envs.search.index_store import ensure_index
    from agentgym.synth.search import SearchSynthConfig, synthesize

    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path / "cache"))  # no default index: only index_dir can serve
    out = tmp_path / "synth"
    out.mkdir()
    index = ensure_index(out / "index")  # the python-docs corpus, indexed inside the synthesis folder
    config = SearchSynthConfig(num_tasks=2, max_units=40, seed=3, env_kwargs={"index_dir": str(index)})
    report = asyncio.run(synthesize(config, out / "units.store.jsonl", progress=False))
    save_tasks(out / "tasks.jsonl", report.tasks)
    assert json.loads((out / "env_kwargs.json").read_text()) == {"env": "search", "kwargs": {"index_dir": "./index"}}
    moved = shutil.move(str(out), str(tmp_path / "moved"))  # the folder travels with its index
    rewards, kwargs = play_through_source("search", moved)
    assert rewards == [1.0, 1.0] and kwargs == {"index_dir": str(Path(moved).resolve() / "index")}


@pytest.mark.parametrize("env", ["rpt", "jupyter"])
def test_task_file_envs_play_their_task_files(tmp_path, env):
    import agentgym

    made = agentgym.make(env)
    try:
        tasks = made.sample_tasks(2, seed=1)
    finally:
        asyncio.run(made.close())
    file = save_tasks(tmp_path / f"{env}.jsonl", tasks)
    rewards, _ = play_through_source(env, file)
    assert rewards == [1.0, 1.0]
