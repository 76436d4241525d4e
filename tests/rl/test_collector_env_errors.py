"""The collector's group seeding (shared | varied) and its handling of env failures (bounded retries, then drop)."""

from __future__ import annotations

import pytest

from agentgym.api import Action, Observation, Task
from agentgym.rl.collector import RolloutCollector
from agentgym.rl.config import parse_config
from agentgym.rl.sampler import EnvPool, MixedTaskSampler
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.rollout import ScriptedPolicy


class FlakyEnv(EchoLetterEnv):
    """The echo env whose first `num_failures[task.id]` resets raise (a sandbox that did not start); records seeds."""

    def __init__(self, failures: dict[str, int], seeds: list[tuple[str, int | None]]) -> None:
        super().__init__(letters="ab")
        self.failures = failures
        self.seeds = seeds

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        self.seeds.append((task.id, seed))
        if self.failures.get(task.id, 0) > 0:
            self.failures[task.id] -= 1
            raise RuntimeError("sandbox failed to start")
        return await super().reset(task, seed=seed)


def _alternating_policy() -> ScriptedPolicy:
    count = {"n": 0}

    def act(messages, tools):
        count["n"] += 1
        return Action(text=messages[-1].content if count["n"] % 2 else "z")

    return ScriptedPolicy(act)


def _collector(tasks, failures, seeds, **kwargs) -> RolloutCollector:
    sampler = MixedTaskSampler([EnvPool(name="echo", weight=1.0, tasks=tasks)], seed=0)
    return RolloutCollector(sampler, lambda name: FlakyEnv(failures, seeds), _alternating_policy(),
                            lambda t: t.reward, group_size=4, max_turns=1, dynamic_filtering=False,
                            concurrency=1, **kwargs)


@pytest.mark.parametrize("mode", ["shared", "varied"])
def test_group_seed_decides_whether_a_groups_episodes_share_the_reset_seed(mode):
    tasks = EchoLetterEnv(letters="ab").sample_tasks(3, seed=0)
    seeds: list[tuple[str, int | None]] = []
    out = _collector(tasks, {}, seeds, group_seed=mode).collect(3, seed=5)
    assert len(out.groups) == 3 and len(seeds) == 12
    for g in out.groups:
        group_seeds = {t.seed for t in g.trajectories}
        assert len(group_seeds) == (1 if mode == "shared" else 4)
    received = [seeds[i:i + 4] for i in range(0, 12, 4)]  # what reset got, group by group (one env, in order)
    assert [len({task_id for task_id, _ in r}) for r in received] == [1, 1, 1]
    assert [len({seed for _, seed in r}) for r in received] == [1 if mode == "shared" else 4] * 3


def test_env_errors_are_retried_with_the_same_seed_and_counted():
    tasks = [Task(id="t0", env="echo", prompt="a", data={"answer": "a"})]
    seeds: list[tuple[str, int | None]] = []
    out = _collector(tasks, {"t0": 2}, seeds, env_error_retries=2).collect(1, seed=0)  # first 2 resets fail
    assert out.num_env_error_retries == 2 and out.num_env_error_dropped == 0 and out.num_failed == 0
    assert len(out.groups) == 1 and all(t.error != "env_error" for t in out.groups[0].trajectories)
    assert len(seeds) == 4 + 2 and len({s for _, s in seeds}) == 1  # re-played on the same seed
    retried = [t for t in out.groups[0].trajectories if t.info.get("env_error_retries")]
    assert [(t.info["episode"], t.info["env_error_retries"]) for t in retried] == [("t0#0", 1), ("t0#1", 1)]


def test_a_group_still_failing_after_its_retries_is_dropped_never_trained_on():
    tasks = [Task(id="t0", env="echo", prompt="a", data={"answer": "a"})]
    out = _collector(tasks, {"t0": 100}, [], env_error_retries=3).collect(1, seed=0)
    assert out.groups == [] and out.num_env_error_dropped == 1 and out.num_failed == 1
    assert out.num_env_error_retries == 3 * 4  # 3 re-plays for each of the group's 4 episodes


def test_without_retries_the_first_env_error_drops_the_group():
    tasks = [Task(id="t0", env="echo", prompt="a", data={"answer": "a"})]
    out = _collector(tasks, {"t0": 1}, [], env_error_retries=0).collect(1, seed=0)
    assert out.num_env_error_retries == 0 and out.num_env_error_dropped == 1 and out.groups == []


def test_the_config_knobs_validate():
    config = parse_config({"envs": [{"name": "echo"}], "techniques": {"group_seed": "varied",
                                                                       "env_error_retries": 1}})
    assert config.techniques.group_seed == "varied" and config.techniques.env_error_retries == 1
    assert parse_config({"envs": [{"name": "echo"}]}).techniques.group_seed == "shared"
    with pytest.raises(ValueError, match="group_seed"):
        parse_config({"envs": [{"name": "echo"}], "techniques": {"group_seed": "random"}})
    with pytest.raises(ValueError, match="group_seed must be 'shared' or 'varied'"):
        _collector(EchoLetterEnv().sample_tasks(1), {}, [], group_seed="other")
