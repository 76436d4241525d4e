"""Asynchronous rollouts: generate step k+1's batch on a copy of the weights while the trainer updates on step k's.

A producer thread owns an inference copy of the model (its own `Engine` and `EnginePolicy`) and collects batches in
step order into a bounded queue; the trainer takes batch k, updates, and hands the new weights (version k+1) back with
`sync_weights`. Batch j is always sampled by version `max(first_step, j − max_staleness)`, never by "whatever is newest",
so a run's samples do not depend on thread timing: with `max_staleness = 0` it is the synchronous trainer, bit for
bit; with `max_staleness = s` every batch after the first s is exactly s versions old. Every `Turn` is stamped with the
version that sampled it, and its logprobs are that version's, so the V3.2 off-policy mask (A < 0 and mean
log(π_old/π_θ) > δ) measures the real drift between the sampling and the trained weights.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from agentgym.rl.collector import Collection, RolloutCollector
from agentgym.rl.sequences import Batch

POLL_S = 0.05
MAX_EVENTS = 1024


@dataclass(slots=True)
class ProducedBatch:
    """One step's collection and where it came from.

    Attributes:
        index: the trainer step it is for.
        version: the policy version (weights after `version` updates) that sampled every episode in it.
        collection: the groups, as the synchronous collector returns them.
        sampler_state: the task sampler's state right after this batch was drawn (what a checkpoint after step
            `index` must store, since the producer may already have drawn later batches).
        collect_s: producer seconds spent collecting it.
    """

    index: int
    version: int
    collection: Collection
    sampler_state: dict[str, Any]
    collect_s: float


class _ThreadPinnedEngine:
    """An `Engine` whose `generate` first sets torch's intra-op threads for the (fresh) worker thread it runs in."""

    def __init__(self, engine: Any, num_threads: int) -> None:
        self._engine = engine
        self._num_threads = num_threads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def generate(self, prompts: list[list[int]], params: Any = None) -> list[Any]:
        torch.set_num_threads(self._num_threads)
        return self._engine.generate(prompts, params)


def synced_names(model: torch.nn.Module) -> list[str]:
    """State-dict keys that can change during training: trainable parameters and all buffers (frozen blocks are
    copied once, with the model)."""
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    return [n for n in model.state_dict() if n not in frozen]


class AsyncRolloutPipeline:
    """Producer thread + bounded queue + versioned weight hand-off (a `RolloutBackend`: `policy`, `sync_weights`,
    `close`).

    Args:
        collector: a collector whose policy samples from `rollout_model` (see `build_async_pipeline`).
        rollout_model: the inference copy the producer generates with.
        source_model: the trained model; `start` copies its weights (version first_step) into `rollout_model`.
        seed, num_groups: as in the trainer: step j reseeds the policy with `seed_of(seed * 1_000_003 + j)` and
            collects `num_groups` groups with `seed_of(seed * 10_007 + j)`, exactly like the synchronous trainer.
        max_staleness: batch j is sampled by version max(first_step, j − max_staleness); 0 = synchronous.
        train_threads: torch intra-op threads set on the trainer's thread at `start` (None: leave as is).
        seed_of: per-rank seed mapping (the trainer's `dp.seed`; identity by default).
    """

    def __init__(self, collector: RolloutCollector, rollout_model: torch.nn.Module, *,
                 source_model: torch.nn.Module | None = None, seed: int, num_groups: int, max_staleness: int,
                 train_threads: int | None = None, seed_of: Callable[[int], int] = int) -> None:
        if max_staleness < 0:
            raise ValueError(f"max_staleness must be >= 0, got {max_staleness}")
        self.collector = collector
        self.policy = collector.policy
        self.rollout_model = rollout_model
        self.source_model = source_model
        self.seed = seed
        self.seed_of = seed_of
        self.num_groups = num_groups
        self.max_staleness = max_staleness
        self.train_threads = train_threads
        self.last_metrics: dict[str, float] = {}
        self.rollout_version = -1
        self.sampler_state = collector.sampler.state_dict()
        self.max_queue_depth = 0
        # the latest (what, batch or version, version, perf_counter time) records: "sync" (weights of a version
        # handed over), "collect" (a batch started), "produced" (queued), "consume" (taken by the trainer)
        self.events: deque[tuple[str, int, int, float]] = deque(maxlen=MAX_EVENTS)
        self._names = synced_names(source_model if source_model is not None else rollout_model)
        self._snapshots: dict[int, dict[str, torch.Tensor]] = {}
        self._cond = threading.Condition()
        self._queue: queue.Queue[ProducedBatch | BaseException] = queue.Queue(maxsize=max_staleness + 1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first_step = 0

    def version_for(self, index: int) -> int:
        """The policy version that samples batch `index`."""
        return max(self._first_step, index - self.max_staleness)

    # trainer side
    def start(self, first_step: int) -> None:
        """Copy the source model's weights (version `first_step`) into the rollout copy and start producing batches
        `first_step, first_step + 1, ...`."""
        if self._thread is not None:
            raise RuntimeError("AsyncRolloutPipeline.start called twice")
        if self.train_threads is not None:
            torch.set_num_threads(self.train_threads)
        if self.source_model is not None:
            self._copy_into_rollout({n: t.detach() for n, t in self.source_model.state_dict().items()})
        self._first_step = first_step
        self.rollout_version = first_step
        self.sampler_state = copy.deepcopy(self.collector.sampler.state_dict())
        self._thread = threading.Thread(target=self._produce, name="agentgym-rollout", daemon=True)
        self._thread.start()

    def sync_weights(self, weights: Any, version: int) -> None:
        """Hand the trainer's weights after `version` updates to the producer (a copy: training may go on at once)."""
        if version <= self.rollout_version:
            return
        state = getattr(weights, "module", weights)
        state = state.state_dict() if hasattr(state, "state_dict") else dict(weights)
        snapshot = {n: state[n].detach().clone() for n in self._names}
        with self._cond:
            self._snapshots[version] = snapshot
            self.events.append(("sync", version, version, time.perf_counter()))
            self._cond.notify_all()

    def collect(self, step: int) -> Collection:
        """The collection of step `step` (the trainer's drop-in for `RolloutCollector.collect`); its age and timings
        are left in `last_metrics`."""
        start = time.perf_counter()
        produced = self.next_batch(step)
        self.last_metrics = {"policy_version": produced.version, "staleness": step - produced.version,
                             "rollout_collect_s": produced.collect_s, "wait_s": time.perf_counter() - start}
        return produced.collection

    def next_batch(self, step: int) -> ProducedBatch:
        """Block until batch `step` is ready; re-raises a producer failure."""
        if self._thread is None:
            self.start(step)
        while True:
            try:
                item = self._queue.get(timeout=POLL_S)
                break
            except queue.Empty:
                if not self._thread.is_alive():
                    raise RuntimeError("the rollout producer thread stopped") from None
        if isinstance(item, BaseException):
            raise item  # the producer's own error (an env or engine failure), with its traceback
        if item.index != step:
            raise RuntimeError(f"async rollout: expected the batch of step {step}, got {item.index} (steps must run "
                               "in order; start a new pipeline to jump)")
        if step - item.version > self.max_staleness:  # guaranteed by construction; checked because it is the contract
            raise RuntimeError(f"async rollout: batch {step} sampled by version {item.version}, staler than "
                               f"max_staleness={self.max_staleness}")
        self.sampler_state = item.sampler_state
        self.events.append(("consume", step, item.version, time.perf_counter()))
        return item

    def close(self) -> None:
        """Stop the producer (after the collection in flight) and discard what it had queued; a later `collect` or a
        resumed run collects again from the trainer's weights. Idempotent."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            while self._thread.is_alive():
                self._drain()
                self._thread.join(timeout=POLL_S)
        self._drain()
        self._snapshots.clear()
        self._thread = None
        self._stop.clear()  # a later `collect` starts again, from the trainer's weights at that step

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    # producer side
    def _produce(self) -> None:
        try:
            index = self._first_step
            while not self._stop.is_set():
                version = self.version_for(index)
                if not self._load_version(version):
                    return
                self.policy.reseed(self.seed_of(self.seed * 1_000_003 + index))
                self.policy.policy_version = version
                self.events.append(("collect", index, version, time.perf_counter()))
                start = time.perf_counter()
                collection = self.collector.collect(self.num_groups, seed=self.seed_of(self.seed * 10_007 + index))
                item = ProducedBatch(index=index, version=version, collection=collection,
                                     sampler_state=copy.deepcopy(self.collector.sampler.state_dict()),
                                     collect_s=time.perf_counter() - start)
                self.events.append(("produced", index, version, time.perf_counter()))
                if not self._put(item):
                    return
                index += 1
        except BaseException as e:  # noqa: BLE001 - handed to the trainer, which re-raises it
            self._put(e)

    def _load_version(self, version: int) -> bool:
        """Wait for the weights of `version` and copy them into the rollout model (False when stopped)."""
        if version == self.rollout_version:
            return True
        with self._cond:
            while version not in self._snapshots and not self._stop.is_set():
                self._cond.wait(timeout=POLL_S)
            if self._stop.is_set():
                return False
            snapshot = self._snapshots.pop(version)
            for old in [v for v in self._snapshots if v < version]:
                del self._snapshots[old]
        self._copy_into_rollout(snapshot)
        self.rollout_version = version
        return True

    def _copy_into_rollout(self, state: dict[str, torch.Tensor]) -> None:
        target = self.rollout_model.state_dict()
        with torch.no_grad():
            for name, tensor in state.items():
                target[name].copy_(tensor)

    def _put(self, item: ProducedBatch | BaseException) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL_S)
                self.max_queue_depth = max(self.max_queue_depth, self._queue.qsize())
                return True
            except queue.Full:
                continue
        return False


def build_async_pipeline(trainer: Any) -> AsyncRolloutPipeline:
    """The pipeline of `trainer.config.async_rollout`: an inference copy of `trainer.model` with its own engine and
    an `EnginePolicy` of the same sampling config, behind a copy of the trainer's collector (same settings; the task
    sampler, env factory and reward function are shared, and only the producer uses them from then on)."""
    from agentgym.model import Engine
    from agentgym.rollout.engine_policy import EnginePolicy

    section = trainer.config.async_rollout
    policy = trainer.policy
    if not isinstance(policy, EnginePolicy):
        raise TypeError("async_rollout needs the embedded engine (rollout.backend: engine); got a "
                         f"{type(policy).__name__} policy")
    rollout_model = copy.deepcopy(trainer.model).requires_grad_(False).eval()
    engine: Any = Engine(rollout_model, trainer.tokenizer, policy.engine.config)
    if section.rollout_threads is not None:
        engine = _ThreadPinnedEngine(engine, section.rollout_threads)
    collector = copy.copy(trainer.collector)
    collector.policy = EnginePolicy(engine, policy.config)
    return AsyncRolloutPipeline(collector, rollout_model, source_model=trainer.model, seed=trainer.config.seed,
                                num_groups=trainer.dp.num_groups(trainer.config.groups_per_step),
                                max_staleness=section.max_staleness, train_threads=section.train_threads,
                                seed_of=trainer.dp.seed)


def recompute_mask(batch: Batch, version: int) -> torch.Tensor:
    """Where `recompute_old_logprobs` may replace the recorded logprobs: trained positions of sequences sampled by
    the current `version` (or of unknown version). A stale sequence keeps its sampling version's logprobs, so its
    importance ratio and the off-policy mask see how far the weights moved since it was sampled."""
    fresh = batch.trained > 0
    if batch.versions is None:
        return fresh
    current = (batch.versions == version) | (batch.versions < 0)
    return fresh & current[:, None]
