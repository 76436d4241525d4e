"""Live task difficulty: estimates, learnability weights (fade-out and floor), exact resume, and the trainer's updates."""

from __future__ import annotations

import random

import pytest

from agentgym.api import Task, Trajectory, Verdict
from agentgym.rl.sampler import EnvPool, MixedTaskSampler
from agentgym.rl.task_stats import TaskStats, wilson_interval


def pool(n: int, env: str = "arith") -> EnvPool:
    return EnvPool(name=env, weight=1.0, tasks=[Task(id=f"{env}-{i}", env=env, prompt=str(i)) for i in range(n)])


def outcome(passed: bool) -> Trajectory:
    return Trajectory(task_id="x", env="arith", reward=float(passed),
                      verdict=Verdict(reward=float(passed), passed=passed))


def test_unseen_tasks_weigh_most_and_solved_or_failed_ones_fade_to_the_floor():
    stats = TaskStats()
    assert stats.estimate("new") == 0.5 and stats.learnability("new", floor=0.01) == 0.25
    stats.update("half", successes=5, attempts=10)
    stats.update("easy", successes=3, attempts=3)
    stats.update("hard", successes=0, attempts=3)
    weights = {k: stats.learnability(k, floor=0.01) for k in ("new", "half", "easy", "hard")}
    assert weights["new"] == 0.25 and weights["half"] == 0.25
    assert weights["easy"] == pytest.approx(0.8 * 0.2) and weights["hard"] == pytest.approx(0.2 * 0.8)  # Beta(1,1)
    for _ in range(50):
        stats.update("easy", successes=8, attempts=8)
        stats.update("hard", successes=0, attempts=8)
    assert stats.learnability("easy", floor=0.01) == stats.learnability("hard", floor=0.01) == 0.01
    assert stats.learnability("easy", floor=0.0) < 0.01  # without a floor it would vanish
    assert stats.buckets(["new", "half", "easy", "hard", "easy"]) == {"unseen": 1, "p<0.2": 1, "p0.2-0.8": 1,
                                                                       "p>0.8": 1}
    low, high = stats.interval("half")
    assert (low, high) == wilson_interval(10, 5) and low < 0.5 < high and stats.interval("new") == (0.0, 1.0)


def test_filter_pass_at_k_record_starts_the_estimate():
    stats = TaskStats(max_filter_attempts=8)
    task = Task(id="f", env="arith", prompt="?", meta={"passk": [{"num_attempts": 100, "num_successes": 25}]})
    assert stats.seed_from_filter([task, Task(id="g", env="arith", prompt="?")]) == 1
    assert stats.estimate("f") == pytest.approx((1 + 2) / (2 + 8))  # 25/100 scaled to 8 pseudo-attempts
    assert not stats.is_seen("f") and stats.buckets(["f", "g"]) == {"unseen": 1, "p<0.2": 0, "p0.2-0.8": 1,
                                                                    "p>0.8": 0}


def test_learnability_sampler_draws_by_weight_and_keeps_retrying_faded_tasks():
    sampler = MixedTaskSampler([pool(4)], seed=0, mode="learnability", floor=0.01)
    for _ in range(100):
        sampler.observe(sampler.pools[0].tasks[0], [outcome(True)] * 8)   # always solved
        sampler.observe(sampler.pools[0].tasks[1], [outcome(False)] * 8)  # never solved
    sampler.observe(sampler.pools[0].tasks[2], [outcome(True), outcome(False)] * 4)
    counts = {t.id: 0 for t in sampler.pools[0].tasks}
    for _, task in sampler.sample(4000):
        counts[task.id] += 1
    assert counts["arith-2"] > 10 * counts["arith-0"] and counts["arith-3"] > 10 * counts["arith-1"]
    assert counts["arith-0"] > 0 and counts["arith-1"] > 0  # the floor: faded tasks still come back
    assert sampler.weights("arith") == [0.01, 0.01, pytest.approx(0.25), 0.25]


def test_uniform_mode_draws_exactly_as_before():
    pools = [pool(7), EnvPool(name="echo", weight=3.0, tasks=pool(5, "echo").tasks)]
    sampler = MixedTaskSampler(pools, seed=11)
    sampler.observe(pools[0].tasks[0], [outcome(True)] * 4)  # statistics are kept but never change uniform draws
    rng, old = random.Random(11), []
    for _ in range(200):  # the sampler's algorithm before task statistics existed
        p = rng.choices(pools, weights=[1.0, 3.0], k=1)[0]
        old.append((p.name, p.tasks[rng.randrange(len(p.tasks))].id))
    assert [(n, t.id) for n, t in sampler.sample(200)] == old


@pytest.mark.parametrize("mode", ["uniform", "learnability"])
def test_resume_draws_bit_for_bit(mode):
    def run(sampler: MixedTaskSampler, steps: range) -> list[str]:
        out = []
        for step in steps:
            for _, task in sampler.sample(6):
                out.append(task.id)
                sampler.observe(task, [outcome(hash((task.id, step, j)) % 3 == 0) for j in range(4)])
        return out

    straight = MixedTaskSampler([pool(20)], seed=5, mode=mode)
    expected = run(straight, range(10))
    first = MixedTaskSampler([pool(20)], seed=5, mode=mode)
    head = run(first, range(4))
    state = first.state_dict()
    resumed = MixedTaskSampler([pool(20)], seed=5, mode=mode)
    resumed.load_state_dict(state)
    assert head + run(resumed, range(4, 10)) == expected
    assert resumed.stats.state_dict() == straight.stats.state_dict()


def test_trainer_updates_statistics_from_every_played_group(tmp_path, make_toy_config):
    from agentgym.rl.build import build_model
    from agentgym.rl.checkpoint import latest_checkpoint, load_checkpoint
    from agentgym.envs.echo_letter import EchoLetterEnv
    from agentgym.rl.trainer import GRPOTrainer

    config = make_toy_config(str(tmp_path), steps=2, groups_per_step=4, group_size=4, sampler="learnability",
                             envs=[{"name": "echo", "num_tasks": 8}], techniques={"dynamic_filtering": False})
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    pool_ids = {t.id for t in trainer.sampler.pools[0].tasks}
    records = trainer.train()
    state = load_checkpoint(latest_checkpoint(tmp_path / "checkpoints"), build_model(config)[0])
    stats = state["sampler"]["stats"]  # saved with the sampler: [attempts, successes, prior attempts, prior successes]
    assert set(stats) <= pool_ids and sum(v[0] for v in stats.values()) == 2 * 4 * 4  # every episode is an attempt
    assert sum(v[1] for v in stats.values()) == sum(round(r["reward_mean"] * 16) for r in records)  # echo: 0/1
    last = records[-1]
    assert sum(last[f"pool/{b}"] for b in ("unseen", "p<0.2", "p0.2-0.8", "p>0.8")) == len(pool_ids)
    assert last["pool/unseen"] == len(pool_ids) - len(stats)
