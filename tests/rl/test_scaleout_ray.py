"""The Ray backend: episodes on env-worker and rollout-worker actors equal the in-process collection, seed for seed.

Ray 2.60 removed `local_mode`, so the module starts one small local cluster (2 CPUs, no dashboard) for all tests.
"""

from __future__ import annotations

import math
import os

import pytest

from agentgym.api import Action
from agentgym.rl.backends import PolicyBackend
from agentgym.rl.collector import RolloutCollector
from agentgym.rl.ray_backend import RayBackend, RayCollector, RemoteEnv
from agentgym.rl.sampler import EnvPool, MixedTaskSampler
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.rl.trainer import GRPOTrainer
from agentgym.rollout import ScriptedPolicy

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def local_cluster():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    if started:
        ray.shutdown()


class SeededEchoEnv(EchoLetterEnv):
    """Echo env whose expected letter depends on the reset seed, so a wrong seed on a worker changes the rewards."""

    async def reset(self, task, *, seed=None):
        observation = await super().reset(task, seed=seed)
        self.seed = seed
        return observation

    async def step(self, action):
        result = await super().step(action)
        result.info["seed"] = self.seed
        return result


def _policy() -> ScriptedPolicy:
    """Deterministic in the conversation: right on letters a-d, wrong on the others."""
    return ScriptedPolicy(lambda messages, tools: Action(text=messages[-1].content if messages[-1].content < "e"
                                                         else "z"))


def _collector(cls, **kwargs):
    tasks = SeededEchoEnv().sample_tasks(400, seed=3)
    sampler = MixedTaskSampler([EnvPool(name="echo", weight=1.0, tasks=tasks[:200]),
                                EnvPool(name="echo2", weight=1.0, tasks=tasks[200:])], seed=0)
    return cls(sampler, lambda name: SeededEchoEnv(), _policy(), lambda t: t.reward + (t.seed or 0) * 1e-9,
               group_size=3, max_turns=1, dynamic_filtering=False, **kwargs)


def _dump(collection):
    return [(g.env, g.task.id, g.rewards, [t.model_dump() for t in g.trajectories]) for g in collection.groups]


@pytest.mark.parametrize("mode", ["envs", "episodes"])
def test_ray_collection_equals_in_process_collection(mode):
    local = _collector(RolloutCollector).collect(6, seed=11)
    remote_collector = _collector(RayCollector, mode=mode, num_workers=2)
    try:
        remote = remote_collector.collect(6, seed=11)
        pids = ray.get([a.__ray_call__.remote(lambda self: os.getpid()) for a in remote_collector.actors])
        assert len(set(pids)) == 2 and os.getpid() not in pids  # two worker processes did the work
        if mode == "envs":
            assert isinstance(remote_collector.make_env("echo"), RemoteEnv)
    finally:
        remote_collector.close()
    ids = [g.task.id for g in local.groups]
    assert len(set(ids)) == len(ids)  # (a task drawn twice in one batch shares episode keys in run_episodes)
    assert _dump(remote) == _dump(local)
    seeds = {t.seed for g in local.groups for t in g.trajectories}
    assert len(seeds) > 1 and {g.env for g in local.groups} == {"echo", "echo2"}
    assert {r for g in local.groups for r in g.rewards} != {0.0}


def test_trainer_with_ray_backend_runs_envs_on_workers(tmp_path, make_toy_config):
    config = make_toy_config(str(tmp_path), steps=1, groups_per_step=2, group_size=4,
                             rollout={"backend": "ray", "ray": {"num_env_workers": 1}})
    trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    assert isinstance(trainer.backend, RayBackend) and isinstance(trainer.collector, RayCollector)
    (record,) = trainer.train()
    assert record["num_episodes"] >= 8 and record["num_groups"] >= 1 and math.isfinite(record["loss"])
    assert trainer.collector.actors == []  # train() closed the backend


def test_backend_builds_ray_collectors_and_forwards_weight_sync():
    inner = PolicyBackend(_policy())
    backend = RayBackend(inner, mode="episodes", num_workers=1)
    collector = _collector(backend.make_collector)
    assert isinstance(collector, RayCollector) and collector.mode == "episodes"
    assert len(collector.collect(2, seed=0).groups) == 2
    backend.sync_weights({}, 4)
    assert inner.version == 4
    backend.close()
    assert collector.actors == [] and backend.collectors == []
