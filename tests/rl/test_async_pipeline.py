"""The async rollout pipeline: versions on every sample, bounded staleness, weight sync, determinism, resume."""

from __future__ import annotations

import math
import time

import pytest
import torch

from agentgym.rl.async_pipeline import recompute_mask
from agentgym.rl.config import ConfigError
from agentgym.rl.sequences import Segment, collate
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.rl.trainer import GRPOTrainer


def _trainer(make_toy_config, out, *, staleness: int, steps: int = 4, **changes) -> GRPOTrainer:
    torch.set_num_threads(1)
    config = make_toy_config(str(out), steps=steps, groups_per_step=4, group_size=4,
                             async_rollout={"enabled": True, "max_staleness": staleness}, **changes)
    return GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())


def _curve(records: list[dict]) -> list[tuple]:
    return [(r.get("loss"), r["reward_mean"]) for r in records]


def _record_segments(trainer: GRPOTrainer) -> list[tuple[int, list[Segment]]]:
    seen: list[tuple[int, list[Segment]]] = []
    segments_of, step = trainer.segments_of, trainer.step

    def recording_step(k: int) -> dict:
        seen.append((k, []))
        return step(k)

    def recording_segments(collection):
        out = segments_of(collection)
        seen[-1][1].extend(out)
        return out

    trainer.step, trainer.segments_of = recording_step, recording_segments
    return seen


def _event_times(pipeline) -> dict[tuple[str, int], float]:
    return {(what, index): t for what, index, _, t in pipeline.events}


def test_zero_staleness_is_the_synchronous_trainer_bit_for_bit(tmp_path, make_toy_config):
    torch.set_num_threads(1)
    sync_config = make_toy_config(str(tmp_path / "sync"), steps=3, groups_per_step=4, group_size=4)
    straight = GRPOTrainer(sync_config, make_env=lambda name: EchoLetterEnv()).train()
    trainer = _trainer(make_toy_config, tmp_path / "async", staleness=0, steps=3)
    overlapped = trainer.train()
    assert _curve(overlapped) == _curve(straight)
    assert [r["policy_version"] for r in overlapped] == [0, 1, 2]
    assert [r["staleness"] for r in overlapped] == [0, 0, 0]
    times = _event_times(trainer.pipeline)
    for j in (1, 2):  # bound 0: batch j starts only after batch j − 1 was trained and version j handed over
        assert times["collect", j] > times["consume", j - 1] and times["collect", j] > times["sync", j]


@pytest.mark.slow
def test_every_sample_records_the_version_that_sampled_it_and_staleness_is_bounded(tmp_path, make_toy_config):
    trainer = _trainer(make_toy_config, tmp_path, staleness=2, steps=6)
    seen = _record_segments(trainer)
    update = trainer.update

    def slow_update(segments, step):  # the producer runs ahead of a slow trainer
        time.sleep(0.3)
        return update(segments, step)

    trainer.update = slow_update
    pipeline = trainer.pipeline
    records = trainer.train()
    assert [r["staleness"] for r in records] == [0, 1, 2, 2, 2, 2]
    for step, segments in seen:
        assert segments
        assert {s.policy_version for s in segments} == {max(0, step - 2)}
        batch = collate(segments, pad_id=0)
        assert batch.versions.tolist() == [max(0, step - 2)] * len(segments)
    assert pipeline.max_queue_depth <= 3
    times = _event_times(pipeline)
    assert any(times["collect", j] < times["consume", j - 1] for j in range(2, 6))  # it did run ahead
    for j in range(6):
        assert times["collect", j] > times.get(("sync", j - 2), 0.0)  # but never with weights older than j − 2


def test_rollout_copy_holds_the_trained_weights_of_the_version_it_samples(tmp_path, make_toy_config):
    trainer = _trainer(make_toy_config, tmp_path, staleness=1, steps=4)
    pipeline = trainer.pipeline
    trained = {0: {k: v.clone() for k, v in trainer.model.state_dict().items()}}
    sampled: list[tuple[int, dict]] = []
    collect = pipeline.collector.collect

    def recording_collect(num_groups, *, seed):
        state = {k: v.clone() for k, v in pipeline.rollout_model.state_dict().items()}
        sampled.append((pipeline.policy.policy_version, state))
        return collect(num_groups, seed=seed)

    pipeline.collector.collect = recording_collect
    trainer.on_step = lambda step, m: trained.__setitem__(step + 1, {k: v.clone() for k, v in
                                                                    trainer.model.state_dict().items()})
    trainer.train()
    assert [v for v, _ in sampled][:4] == [0, 0, 1, 2]
    for version, state in sampled[:4]:
        assert all(torch.equal(state[k], trained[version][k]) for k in state), version
    assert not all(torch.equal(trained[0][k], trained[2][k]) for k in trained[0])  # the weights did move


def test_runs_are_reproducible_whatever_the_timing(tmp_path, make_toy_config):
    first = _trainer(make_toy_config, tmp_path / "a", staleness=1, steps=3)
    second = _trainer(make_toy_config, tmp_path / "b", staleness=1, steps=3)
    collect = second.pipeline.collector.collect
    second.pipeline.collector.collect = lambda n, *, seed: (time.sleep(0.2), collect(n, seed=seed))[1]
    assert _curve(first.train()) == _curve(second.train())


def test_resume_restarts_collection_from_the_checkpoint_version(tmp_path, make_toy_config):
    changes = {"techniques": {"dynamic_filtering": False}, "checkpoint_every": 1}
    _trainer(make_toy_config, tmp_path, staleness=1, steps=2, **changes).train()
    state = torch.load(tmp_path / "checkpoints" / "step_000002" / "state.pt", weights_only=False)
    assert state["sampler"]["num_drawn"] == 2 * 4  # the consumed batches, not what the producer drew ahead
    resumed = _trainer(make_toy_config, tmp_path, staleness=1, steps=4, **changes).train(resume=True)
    assert [r["step"] for r in resumed] == [0, 1, 2, 3]
    assert [r["policy_version"] for r in resumed] == [0, 0, 2, 2]
    assert all(math.isfinite(r["loss"]) for r in resumed)


def test_recompute_keeps_the_sampling_logprobs_of_stale_sequences():
    segments = [Segment(tokens=[1, 2, 3], trained=[1, 1], old_logprobs=[-1.0, -1.0], supports=[None, None],
                        policy_version=v) for v in (3, 2, None)]
    batch = collate(segments, pad_id=0)
    assert batch.versions.tolist() == [3, 2, -1]
    assert recompute_mask(batch, 3).tolist() == [[True, True], [False, False], [True, True]]


def test_bad_staleness_is_a_config_error(make_toy_config, tmp_path):
    with pytest.raises(ConfigError, match="async_rollout.max_staleness"):
        make_toy_config(str(tmp_path), async_rollout={"enabled": True, "max_staleness": -1})


@pytest.mark.slow
def test_async_training_learns_the_echo_env(tmp_path, make_toy_config):
    torch.set_num_threads(1)
    config = make_toy_config(str(tmp_path), steps=24, async_rollout={"enabled": True, "max_staleness": 1},
                             loss={"off_policy_threshold": 0.5})
    records = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv()).train()
    rewards = [r["reward_mean"] for r in records]
    assert all(math.isfinite(r["loss"]) for r in records)
    assert sum(rewards[-4:]) / 4 > sum(rewards[:4]) / 4 + 0.2, rewards
    assert {r["staleness"] for r in records[1:]} == {1}


def test_a_producer_failure_reaches_the_trainer(tmp_path, make_toy_config):
    trainer = _trainer(make_toy_config, tmp_path, staleness=1, steps=3)

    def broken_collect(num_groups, *, seed):
        raise OSError("env server went away")

    trainer.pipeline.collector.collect = broken_collect
    with pytest.raises(OSError, match="env server went away"):
        trainer.train()
    assert trainer.pipeline._thread is None  # closed, nothing left running


def test_async_needs_the_embedded_engine(tmp_path, make_toy_config):
    from agentgym.rollout.scripted import ScriptedPolicy

    config = make_toy_config(str(tmp_path), async_rollout={"enabled": True})
    with pytest.raises(TypeError, match="async_rollout needs the embedded engine"):
        GRPOTrainer(config, make_env=lambda name: EchoLetterEnv(), policy=ScriptedPolicy(["a"]))
