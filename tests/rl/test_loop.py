"""Close the loop: synthesize `general` tasks, filter them, train on the filter's output and hold tasks out."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from agentgym.api import Action, Task, ToolCall
from agentgym.rl.config import ConfigError, parse_config
from agentgym.rollout import PolicyStep
from agentgym.taskio import load_tasks, save_tasks


@pytest.fixture(scope="module")
def filtered(tmp_path_factory) -> tuple[Path, Path, list[Task]]:
    """(synthesis folder, the filter's kept-task file, every synthesized task) from the real library functions."""
    from agentgym.envs.general.env import GeneralEnv
    from agentgym.synth.filter import run_filter
    from agentgym.synth.filter_rules import FilterConfig
    from agentgym.app.synth_cli import synth_general_command

    out = tmp_path_factory.mktemp("synth")
    synth_general_command("all", 6, out, progress=False, max_level=0)
    tasks = load_tasks(out / "tasks.jsonl")
    solvable = {t.id for t in tasks[::2]}
    by_prompt = {t.prompt: t for t in tasks}

    async def act(messages, tools):  # solves every other task with its reference, answers the rest wrongly
        user = next(m.content for m in messages if m.role == "user")
        task = next(t for p, t in by_prompt.items() if user.startswith(p))
        if task.id in solvable:
            return PolicyStep(action=GeneralEnv().reference_action(task))
        return PolicyStep(action=Action(tool_calls=[ToolCall(id="s", name="submit", arguments={"answer": None})]))

    class Planned:
        async def act(self, messages, tools):
            return await act(messages, tools)

    result = asyncio.run(run_filter(tasks, Planned(), FilterConfig(k=2, first_round_size=2, drop_test=None),
                                    make_env=lambda: GeneralEnv(), progress=False))
    kept = out / "tasks.passk.jsonl"
    save_tasks(kept, result.kept)
    assert {t.id for t in result.kept} == solvable
    return out, kept, tasks


def loop_config(tmp_path: Path, **env: object) -> dict:
    return {"envs": [{"name": "general", **env}],
            "model": {"preset": "tiny", "overrides": {"max_seq_len": 4096}, "max_seq_len": 4096, "max_batch": 8},
            "sampling": {"max_new_tokens": 4, "max_turns": 1},
            "steps": 2, "groups_per_step": 2, "group_size": 2, "concurrency": 8,
            "techniques": {"dynamic_filtering": False}, "out_dir": str(tmp_path / "run"), "progress": False}


def test_trainer_plays_exactly_the_filtered_tasks(tmp_path, filtered):
    from agentgym.rl.trainer import GRPOTrainer

    _, kept, _ = filtered
    config = parse_config(loop_config(tmp_path, tasks=str(kept)))
    played: list[str] = []
    trainer = GRPOTrainer(config)
    draw = trainer.sampler.sample
    trainer.sampler.sample = lambda n: [d for d in draw(n) if not played.append(d[1].id)]
    records = trainer.train()
    file_ids = {t.id for t in load_tasks(kept)}
    assert played and set(played) <= file_ids
    stats = trainer.sampler.stats
    assert {k for k in stats.records if stats.is_seen(k)} == set(played)  # every played group recorded, no other
    assert set(stats.records) == file_ids  # each started from the filter's pass@k record (2 attempts)
    assert all(r.prior_attempts == 2 and r.prior_successes == 2 for r in stats.records.values())
    assert records[-1]["num_episodes"] == 4
    record = json.loads((tmp_path / "run" / "heldout.json").read_text())
    assert record["general"] == {"source": f"file {kept}", "pool_size": len(file_ids), "n": 0}


def test_folder_source_held_out_split_and_periodic_eval(tmp_path, filtered):
    from agentgym.rl.trainer import GRPOTrainer

    out, _, tasks = filtered
    config = parse_config({**loop_config(tmp_path, tasks=str(out), num_heldout=2),
                           "heldout": {"every": 1, "seed": 1}, "steps": 1})
    trainer = GRPOTrainer(config)
    held = trainer.run_tasks.heldout["general"].tasks
    train_ids = {t.id for t in trainer.sampler.pools[0].tasks}
    assert len(held) == 2 and not {t.id for t in held} & train_ids and len(train_ids) == len(tasks) - 2
    records = trainer.train()
    assert records[-1]["heldout/general/n"] == 2 and "heldout/general/reward" in records[-1]
    record = json.loads((tmp_path / "run" / "heldout.json").read_text())["general"]
    assert record["n"] == 2 and record["ids"] == [t.id for t in held] and record["how"].startswith("split_heldout(")


def test_trainer_refuses_an_overlapping_heldout_file(tmp_path, filtered):
    from agentgym.rl.trainer import GRPOTrainer

    out, kept, tasks = filtered
    dup = load_tasks(kept)[0]
    heldout = save_tasks(tmp_path / "heldout.jsonl", [dup.model_copy(update={"id": "regenerated-copy"})])
    config = parse_config(loop_config(tmp_path, tasks=str(kept), heldout_tasks=str(heldout)))
    with pytest.raises(ConfigError, match=re.escape(f"envs[general]: env 'general': held-out set overlaps the "
                                                    f"training set: 1 by content (regenerated-copy ~ {dup.id})")):
        GRPOTrainer(config)


def test_task_sources_are_checked_at_config_load(tmp_path, filtered):
    out, kept, _ = filtered
    empty = save_tasks(tmp_path / "none.passk.jsonl", [])
    cases = {str(tmp_path / "missing.jsonl"): "does not exist",
             str(empty): "contains no tasks (a filter output that kept none?)",
             str(tmp_path): "has no tasks.jsonl"}
    for path, problem in cases.items():
        with pytest.raises(ConfigError, match=r"^config: envs\.0\.tasks: Value error, .*" + re.escape(problem)):
            parse_config(loop_config(tmp_path, tasks=path))
    arith = save_tasks(tmp_path / "arith.jsonl", [Task(id="a", env="arith", prompt="1+1", data={"answer": 2})])
    with pytest.raises(ConfigError, match=r"holds tasks of env 'arith' \(1 of 1, first 'a'\), not of 'general'"):
        parse_config(loop_config(tmp_path, tasks=str(arith)))


def test_relative_env_dirs_make_the_env_with_their_folder_as_root(tmp_path, filtered):
    from agentgym.rl.build import default_env_factory

    out, kept, _ = filtered
    relative = [t.model_copy(update={"data": {**t.data, "env_dir": str(Path(t.data["env_dir"]).relative_to(out))}})
                for t in load_tasks(kept)]
    file = save_tasks(out / "relative.jsonl", relative)
    config = parse_config(loop_config(tmp_path, tasks=str(file)))
    env = default_env_factory(config)("general")
    assert env.root == out

    async def play() -> float:
        async with env:
            await env.reset(relative[0], seed=0)
            return (await env.step(env.reference_action(relative[0]))).reward

    assert asyncio.run(play()) == 1.0


def test_general_env_serves_a_synthesized_set_from_its_tasks_kwarg(tmp_path, filtered):
    import agentgym

    out, kept, tasks = filtered
    env = agentgym.make("general", tasks=str(out))
    drawn = env.sample_tasks(2 * len(tasks), seed=3)
    assert {t.id for t in drawn} == {t.id for t in tasks} and env.root == out
    assert [t.id for t in drawn] == [t.id for t in env.sample_tasks(2 * len(tasks), seed=3)]
    config = parse_config(loop_config(tmp_path, kwargs={"tasks": str(kept)}, num_tasks=8, num_heldout=1))
    from agentgym.rl.pools import build_run_tasks
    from agentgym.rl.build import default_env_factory

    run = build_run_tasks(config, default_env_factory(config))
    assert {t.id for t in run.pools[0].tasks} | {t.id for t in run.heldout["general"].tasks} == {
        t.id for t in load_tasks(kept)}
    asyncio.run(env.close())
