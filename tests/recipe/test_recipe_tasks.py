"""The recipe's one held-out split: disjoint from training, demonstrations, held-in and RPT tasks for the shipped
configs, written once and reused, and a run whose held-out set overlaps refuses to start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentgym.app.cli import app
from agentgym.app.recipe import tasks as recipe_tasks
from agentgym.app.recipe.config import load_recipe, parse_recipe
from agentgym.app.recipe.tasks import build_task_sets, prepare_tasks
from agentgym.heldout import HeldoutOverlapError, HeldoutSplit, content_hash
from agentgym.registry import make
from agentgym.rl.config import ConfigError
from agentgym.rl.pools import build_run_tasks
from agentgym.taskio import load_tasks, save_tasks

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def overlap(a, b) -> set[str]:
    """Ids of `b` tasks that are in `a` by id or by content."""
    ids, hashes = {t.id for t in a}, {content_hash(t) for t in a}
    return {t.id for t in b if t.id in ids or content_hash(t) in hashes}


@pytest.mark.parametrize("name", ["recipe_v32_cpu.yaml", "recipe_smoke.yaml"])
def test_shipped_configs_hold_out_tasks_no_stage_trains_or_demonstrates_on(name):
    config = load_recipe(CONFIGS / name)
    sets = build_task_sets(config)
    assert set(sets.splits) == {e.name for s in config.domains.values() for e in s.envs}
    for env, split in sets.splits.items():
        assert len(split.heldout) == len({t.id for t in split.heldout}) == config.eval.num_tasks
        assert split.how.startswith(f"split_heldout(seed={config.eval.seed}): {config.eval.num_tasks} of ")
        assert split.train and overlap(split.train, split.heldout) == set()
        assert sets.demos(env) and overlap(sets.demos(env), split.heldout) == set()
        assert sets.held_in(env) and overlap(sets.held_in(env), split.heldout) == set()
        assert len(sets.held_in(env)) == min(config.distill.num_tasks, len({t.id for t in split.train}))
        if env == sets.rpt_env:
            assert overlap(sets.rpt_train, split.heldout) == set()
    for env in config.env_kwargs():  # every env the cold start demonstrates, the RPT-only env included
        assert len(sets.demos(env)) == config.cold_start.num_demos


def test_split_is_written_once_reused_by_a_resumed_run_and_played_by_the_trainer(tmp_path):
    config = load_recipe(CONFIGS / "recipe_smoke.yaml")
    sets = prepare_tasks(config, tmp_path)
    files = sorted(p.name for p in (tmp_path / "tasks").iterdir())
    assert files == ["arith.heldout.jsonl", "arith.train.jsonl", "general.heldout.jsonl", "general.train.jsonl",
                     "split.json", "stage-rpt.rpt.train.jsonl"]
    assert [t.id for t in load_tasks(tmp_path / "tasks" / "general.heldout.jsonl")] == \
        [t.id for t in sets.heldout("general")]
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "tasks").iterdir()}
    again = prepare_tasks(config, tmp_path)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "tasks").iterdir()} == stamps
    assert {n: [t.id for t in s.heldout] for n, s in again.splits.items()} == \
        {n: [t.id for t in s.heldout] for n, s in sets.splits.items()}

    # each GRPO stage's env entries train on the train file with the held-out file as heldout_tasks
    train = config.train_config(config.mixed, sets.mix(config.mixed_envs()), out_dir=str(tmp_path), checkpoint=None)
    assert {e.name: (Path(e.tasks).name, Path(e.heldout_tasks).name) for e in train.envs} == {
        "arith": ("arith.train.jsonl", "arith.heldout.jsonl"), "general": ("general.train.jsonl",
                                                                           "general.heldout.jsonl")}
    run = build_run_tasks(train, lambda name: make(name, **sets.kwargs[name]))
    assert {n: [t.id for t in h.tasks] for n, h in run.heldout.items()} == \
        {n: [t.id for t in s.heldout] for n, s in sets.splits.items()}
    assert all(overlap(p.tasks, sets.heldout(p.name)) == set() for p in run.pools)

    changed = config.model_copy(update={"eval": config.eval.model_copy(update={"num_tasks": 3})})
    with pytest.raises(ConfigError, match=r"was split from another config \(changed: eval\)"):
        prepare_tasks(changed, tmp_path)


def test_a_generator_that_cycles_its_set_writes_each_training_task_once(tmp_path):
    config = parse_recipe({"domains": {"agent": {"envs": [{"name": "general", "num_tasks": 256}]}},
                           "eval": {"num_tasks": 8}})  # general ships 200 tasks: the pool repeats 56 of them
    sets = prepare_tasks(config, tmp_path)
    train = load_tasks(tmp_path / "tasks" / "general.train.jsonl")
    assert len(train) == len({t.id for t in train}) == 192 and overlap(train, sets.heldout("general")) == set()
    config.train_config(config.mixed, sets.mix(config.mixed_envs()), out_dir=str(tmp_path), checkpoint=None)


def _overlapping_config(tmp_path: Path) -> dict:
    tasks = make("arith", difficulty=1).sample_tasks(12, seed=0)
    save_tasks(tmp_path / "train.jsonl", tasks[:8])
    save_tasks(tmp_path / "heldout.jsonl", tasks[6:])  # arith-0-6 and arith-0-7 are on both sides
    return {"domains": {"arith": {"envs": [{"name": "arith", "kwargs": {"difficulty": 1},
                                            "tasks": str(tmp_path / "train.jsonl"),
                                            "heldout_tasks": str(tmp_path / "heldout.jsonl")}]}},
            "eval": {"num_tasks": 4}}


def test_a_heldout_file_overlapping_the_training_file_refuses_to_start(tmp_path):
    with pytest.raises(HeldoutOverlapError, match=r"^recipe: refusing to start: env 'arith': held-out set overlaps "
                                                  r"the training set: 2 task\(s\) by id \(arith-0-6, arith-0-7\)"):
        build_task_sets(parse_recipe(_overlapping_config(tmp_path)))
    config = tmp_path / "overlap.yaml"
    config.write_text(json.dumps(_overlapping_config(tmp_path)))
    result = CliRunner().invoke(app, ["recipe", "v32", str(config), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "refusing to start: env 'arith': held-out set overlaps" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run" / "base").exists()


def test_a_split_that_leaks_into_training_or_demonstrations_refuses_to_start(monkeypatch):
    config = load_recipe(CONFIGS / "recipe_smoke.yaml")

    def leaky(tasks, num_heldout, *, seed=0):  # holds out a task and trains on it too (the demonstration, first)
        return HeldoutSplit(train=list(tasks), heldout=list(tasks[:num_heldout]), seed=seed, num_distinct=len(tasks))

    monkeypatch.setattr(recipe_tasks, "split_heldout", leaky)
    with pytest.raises(HeldoutOverlapError, match=r"refusing to start: env 'arith': held-out set overlaps the training "
                                                  r"set: 2 task\(s\) by id \(arith-0-0, arith-0-1\); held-out set "
                                                  r"overlaps the demonstration set: 1 task\(s\) by id \(arith-0-0\)"):
        build_task_sets(config)


def test_domain_envs_may_not_set_their_own_num_heldout():
    with pytest.raises(ConfigError, match=r"domains.a.envs: env 'arith' sets num_heldout; the recipe holds out"):
        parse_recipe({"domains": {"a": {"envs": [{"name": "arith", "num_heldout": 4}]}}})
