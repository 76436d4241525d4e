"""The GRPO trainer loop: sampler → rollout collector → advantages → loss updates → metrics and checkpoints.

Each part lives in its own module; this file only wires them. One step: reseed the policy from the step, collect
`groups_per_step` informative groups (DAPO refill), shape rewards, compute group advantages, build the segments, then
`epochs × num_minibatches` AdamW updates on the kernels' GRPO loss (with per-env β KL against a frozen reference),
and log. Everything random is derived from (seed, step), so `resume=True` continues bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from agentgym.api import Trajectory
from agentgym.rl.advantages import group_advantages
from agentgym.rl.async_pipeline import build_async_pipeline, recompute_mask
from agentgym.rl.backend_factory import build_backend
from agentgym.rl.backends import PolicyBackend, RolloutBackend
from agentgym.rl.build import (
    EnvFactory,
    build_model,
    compute_context,
    default_env_factory,
)
from agentgym.rl.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from agentgym.rl.collector import Collection, RolloutCollector
from agentgym.rl.config import TrainConfig
from agentgym.rl.credit import turn_advantages
from agentgym.rl.distributed import DataParallel
from agentgym.rl.heap import trim_heap
from agentgym.rl.limits_config import build_limits
from agentgym.rl.logprobs import batch_logprobs, batch_logprobs_entropy
from agentgym.rl.lora import adapter_dropout, check_lora, has_lora, reference_of
from agentgym.rl.loss import minibatch_loss
from agentgym.rl.metrics import MetricsLogger, plot_reward_curve, read_metrics
from agentgym.rl.optim import build_optimizer, clip_and_step
from agentgym.rl.pools import build_run_tasks
from agentgym.rl.rewards import shaped_reward
from agentgym.rl.sampler import MixedTaskSampler
from agentgym.rl.schedule import lr_at
from agentgym.rl.sequences import Segment, collate, trajectory_segments
from agentgym.rl.task_stats import TaskStats


class GRPOTrainer:
    """One mixed-env GRPO run.

    Args:
        config: the validated `TrainConfig`.
        make_env: env name -> env (default: `agentgym.make` with the mix's kwargs).
        model, tokenizer: use these instead of building from `config.model` (both or neither).
        on_step: called with (step, metrics) after every step (progress reporting, tests).
        backend: where episodes are generated (default: `config.rollout.backend`, the embedded engine); it gets
            `sync_weights(model, step + 1)` after every update step (`agentgym.rl.backends`).
        policy: shorthand for `backend=PolicyBackend(policy)` (a scripted or HTTP policy with no weights to sync).
    Under `torchrun` each rank collects its share of the groups and gradients are averaged (`agentgym.rl.distributed`).
    """

    def __init__(self, config: TrainConfig, *, make_env: EnvFactory | None = None, model: Any = None,
                 tokenizer: Any = None, on_step: Callable[[int, dict], None] | None = None,
                 backend: RolloutBackend | None = None, policy: Any = None) -> None:
        from agentgym.model.kernels import GRPOLossConfig

        self.config = config
        self.out_dir = Path(config.out_dir)
        self.make_env = make_env or default_env_factory(config)
        if (model is None) != (tokenizer is None):
            raise ValueError("GRPOTrainer: pass both model and tokenizer, or neither")
        self.model, self.tokenizer = (model, tokenizer) if model is not None else build_model(config)
        self.dp = DataParallel.from_env()
        self.dp.broadcast_parameters(self.model)
        self.betas = {e.name: e.kl_beta for e in config.envs}
        self.tool_names: dict[str, frozenset[str]] = {}
        check_lora(self.model, config.model.lora)  # a model passed in must carry the adapters the config asks for
        # frozen KL reference: a copy, or a LoRA model's own base with its adapters off
        self.reference = reference_of(self.model) if any(b > 0 for b in self.betas.values()) else None
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        o = config.optim
        if config.memory.optimizer_in_backward and self.dp.enabled:
            raise ValueError("memory.optimizer_in_backward cannot average gradients across ranks: turn it off for DDP")
        self.optimizer = build_optimizer(self.params, o, config.memory)
        self.model.activation_checkpointing = config.memory.activation_checkpointing
        if self.model.output_weight is self.model.embed.weight:
            # tied head: its dense (vocab, dim) gradient arrives in the same backward, so the lookup's few rows are
            # added into it as a sparse gradient instead of materializing a second dense one (~113 MiB on SmolLM2)
            self.model.embed.sparse = True
        self.loss_config = GRPOLossConfig(clip_low=config.loss.clip_low, clip_high=config.loss.clip_high,
                                          aggregation=config.loss.aggregation,
                                          importance_level=config.loss.importance_level,
                                          off_policy_threshold=config.loss.off_policy_threshold,
                                          max_tokens=config.loss.max_tokens)
        s = config.sampling
        if policy is not None and backend is not None:
            raise ValueError("GRPOTrainer: pass backend or policy, not both")
        self.backend = backend or (PolicyBackend(policy) if policy is not None
                                   else build_backend(config, self.model, self.tokenizer))
        self.policy = self.backend.policy
        # task sources, held-out split and overlap guard: a bad source or an overlap stops here, before any step
        self.run_tasks = build_run_tasks(config, self.make_env)
        self.tool_names = self.run_tasks.tools
        self.sampler = MixedTaskSampler(self.run_tasks.pools, seed=self.dp.seed(config.seed), mode=config.sampler,
                                        stats=self._new_stats(), floor=config.learnability.floor)
        self.sampler.stats.seed_from_filter(t for p in self.run_tasks.pools for t in p.tasks)  # pass@k of a filter file
        t = config.techniques
        make_collector = getattr(self.backend, "make_collector", RolloutCollector)
        context, budget = build_limits(config.context, config.truncation, tokenizer=self.tokenizer,
                                       max_seq_len=config.model.max_seq_len)  # docs/context.md, docs/truncation.md
        self.collector = make_collector(self.sampler, self.make_env, self.policy, self.reward_of,
                                          group_size=config.group_size, max_turns=s.max_turns,
                                          concurrency=config.concurrency, dynamic_filtering=t.dynamic_filtering,
                                          max_refill_rounds=t.max_refill_rounds, group_seed=t.group_seed,
                                          env_error_retries=t.env_error_retries, context=context, budget=budget,
                                          on_truncated=config.truncation.on_truncated,
                                          min_group_size=config.truncation.min_group_size)
        self.num_updates = 0
        self.step_index = 0
        self.on_step = on_step
        # overlapped rollouts on a weight copy (docs/async.md); the producer starts with the first step
        self.pipeline = build_async_pipeline(self) if config.async_rollout.enabled else None

    # rewards
    def reward_of(self, trajectory: Trajectory) -> float:
        r = self.config.reward
        replies = [m.content for m in trajectory.messages if m.role == "assistant"]
        total, components = shaped_reward(trajectory.reward, completion_tokens=trajectory.num_completion_tokens,
                                          text=" ".join(replies), max_tokens=r.length_max_tokens,
                                          buffer=r.length_buffer, language=r.language,
                                          language_weight=r.language_weight, format_weight=r.format_weight,
                                          format_text=replies[0] if replies else "",
                                          tool_names=self.tool_names.get(trajectory.env, frozenset()))
        trajectory.info["reward_components"] = components
        return total

    # one step
    def segments_of(self, collection: Collection) -> list[Segment]:
        if not collection.groups:
            return []
        tech = self.config.techniques
        segments = []
        for g in collection.groups:  # one group at a time: on_truncated="drop" leaves groups of different sizes
            adv = group_advantages(torch.tensor([g.rewards]), normalize_std=tech.normalize_std)[0].tolist()
            per_turn = [None] * len(g.trajectories) if tech.credit == "outcome" else turn_advantages(
                g.trajectories, g.rewards, mode=tech.credit, gamma=tech.gamma, normalize_std=tech.normalize_std)
            for t, a, turn_adv in zip(g.trajectories, adv, per_turn):
                segments += trajectory_segments(t, bos_id=self.tokenizer.bos_id, advantage=a,
                                                beta=self.betas.get(g.env, 0.0),
                                                mask_tool_outputs=tech.mask_tool_outputs, turn_advantages=turn_adv)
        return segments

    def update(self, segments: list[Segment], step: int) -> dict[str, float]:
        """`epochs × num_minibatches` optimizer updates on `segments`; returns the mean loss metrics."""
        c = self.config
        num_parts = self.dp.min_int(min(c.num_minibatches, len(segments)))  # ranks run the same number of updates
        if num_parts == 0:
            return {}
        order = torch.randperm(len(segments), generator=torch.Generator().manual_seed(c.seed * 100_003 + step))
        parts = [p for p in torch.tensor_split(order, num_parts) if len(p)]
        cfg = self.model.cfg
        top_k = cfg.n_activated_experts if cfg.n_routed_experts else 0
        batches = [collate([segments[i] for i in p.tolist()], pad_id=self.tokenizer.pad_id,
                           num_moe_layers=self.model.num_moe_layers, top_k=top_k) for p in parts]
        kw = self._logprob_kwargs()
        refs = [None] * len(batches)
        with torch.no_grad(), compute_context(c):
            if self.reference is not None:
                refs = [batch_logprobs(self.reference, b, **kw) for b in batches]
            if c.recompute_old_logprobs:
                for b in batches:
                    lp = batch_logprobs(self.model, b, **kw)
                    fresh = b.trained > 0 if self.pipeline is None else recompute_mask(b, step)  # stale rows keep
                    b.old_logprobs = torch.where(fresh, lp, b.old_logprobs)  # their sampling version's logprobs
        sums: dict[str, float] = {}
        with adapter_dropout(self.model):
            self._update_epochs(batches, refs, sums)
        n = c.epochs * len(batches)
        return {k: v / n for k, v in sums.items()}

    def _logprob_kwargs(self) -> dict[str, Any]:
        c = self.config
        return {"temperature": c.sampling.temperature, "keep_routing": c.techniques.keep_routing,
                "keep_sampling_mask": c.techniques.keep_sampling_mask, "kernel_path": c.kernel_path}

    def _update_epochs(self, batches: list, refs: list, sums: dict[str, float]) -> None:
        """The optimizer updates of `update` (LoRA dropout on), adding each update's metrics into `sums`."""
        c = self.config
        kw = self._logprob_kwargs()
        for _ in range(c.epochs):
            for batch, ref in zip(batches, refs):
                lr = lr_at(self.num_updates, base_lr=c.optim.lr, total_steps=c.steps * c.epochs * len(batches),
                           warmup_steps=c.optim.warmup_steps, schedule=c.optim.schedule,
                           min_lr_ratio=c.optim.min_lr_ratio)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                with compute_context(c):
                    logprobs, entropy = batch_logprobs_entropy(self.model, batch, **kw)  # entropy: a metric
                    out = minibatch_loss(logprobs, batch, config=self.loss_config, ref_logprobs=ref,
                                         kernel_path=c.kernel_path, entropy=entropy)
                self.optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                self.dp.average_gradients(self.params)
                norm = clip_and_step(self.optimizer, self.params, c.optim.grad_clip)
                self.num_updates += 1
                values = {"loss": float(out.loss.detach()), "grad_norm": float(norm), "lr": lr,
                          **{k: float(v) for k, v in out.metrics.items()}}
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v

    def step(self, step: int) -> dict[str, Any]:
        """Collect, update and return this step's metrics."""
        start = time.perf_counter()
        if hasattr(self.policy, "reseed"):
            self.policy.reseed(self.dp.seed(self.config.seed * 1_000_003 + step))
        self.policy.policy_version = step
        collection = self.pipeline.collect(step) if self.pipeline is not None else self.collector.collect(
            self.dp.num_groups(self.config.groups_per_step), seed=self.dp.seed(self.config.seed * 10_007 + step))
        collect_s = time.perf_counter() - start
        segments = self.segments_of(collection)
        if self.pipeline is None and hasattr(self.backend, "before_update"):
            self.backend.before_update()  # e.g. the engine frees weight copies the update makes stale
        if self.config.memory.trim_heap:
            trim_heap()
        metrics: dict[str, Any] = self.update(segments, step)
        if self.config.memory.trim_heap:
            trim_heap()
        self.backend.sync_weights(self.model, step + 1)  # the rollout engine samples step + 1 from these weights
        self.dp.barrier()  # under torchrun: no rank samples step + 1 before rank 0's sync is done
        if self.pipeline is not None:
            self.pipeline.sync_weights(self.model, step + 1)
        rewards = collection.all_rewards
        per_env: dict[str, list[float]] = {}
        for g in collection.groups:
            per_env.setdefault(g.env, []).extend(g.rewards)
        metrics.update({
            "reward_mean": self.dp.mean(sum(rewards) / max(1, len(rewards))),  # over all ranks under torchrun
            "num_episodes": collection.num_episodes, "num_groups": len(collection.groups),
            "num_filtered": collection.num_filtered, "num_failed": collection.num_failed,
            "num_env_error_retries": collection.num_env_error_retries,
            "num_env_error_dropped": collection.num_env_error_dropped,
            "num_truncated": collection.num_truncated, "num_dropped_truncated": collection.num_dropped_truncated,
            "num_groups_dropped_truncated": collection.num_groups_dropped_truncated,
            "num_rounds": collection.num_rounds, "num_segments": len(segments),
            "num_trained_tokens": int(sum(sum(s.trained) for s in segments)),
            "collect_s": collect_s, "step_s": time.perf_counter() - start,
            **{f"reward/{k}": sum(v) / len(v) for k, v in per_env.items()}, **collection.stats.metrics(),
            **(self.pipeline.last_metrics if self.pipeline is not None else {}),
            **{f"pool/{k}": v for k, v in self.difficulty().items()},
        })
        return metrics

    # live difficulty and held-out evaluation
    def _new_stats(self) -> TaskStats:
        return TaskStats(prior_strength=self.config.learnability.prior_strength,
                         max_filter_attempts=self.config.learnability.max_filter_attempts)

    def difficulty(self) -> dict[str, int]:
        """Distinct pool tasks per difficulty bucket (unseen, p<0.2, p0.2-0.8, p>0.8), from the live statistics."""
        if self.pipeline is None:
            return self.sampler.difficulty()
        stats = self._new_stats()  # the producer thread owns the sampler: read the snapshot of the batch just used
        stats.load_state_dict(self.pipeline.sampler_state.get("stats", {}))
        return stats.buckets(t.id for p in self.run_tasks.pools for t in p.tasks)

    def evaluate_heldout(self, step: int) -> dict[str, float]:
        """Play every held-out set once with the current policy (seeded from `heldout.seed` and the step)."""
        from agentgym.rl.heldout_eval import evaluate_heldout

        h = self.config.heldout
        seed = h.seed * 1_000_003 + step
        if hasattr(self.policy, "reseed"):  # the next step reseeds again, so training draws are unchanged
            self.policy.reseed(seed)
        return evaluate_heldout(self.policy, self.make_env, {k: v.tasks for k, v in self.run_tasks.heldout.items()},
                                max_turns=h.max_turns or self.config.sampling.max_turns,
                                concurrency=self.config.concurrency, seed=seed)

    def write_heldout_record(self) -> Path:
        """OUT/heldout.json: each env's task source and held-out set (n, how it was made, its task ids)."""
        import json

        record = {name: {"source": self.run_tasks.sources[name], "pool_size": len(pool.tasks),
                         **({"n": len(h.tasks), "how": h.how, "ids": [t.id for t in h.tasks]}
                            if (h := self.run_tasks.heldout.get(name)) is not None else {"n": 0})}
                  for name, pool in ((p.name, p) for p in self.run_tasks.pools)}
        path = self.out_dir / "heldout.json"
        path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        return path

    # checkpoints
    def state_dict(self) -> dict[str, Any]:
        sampler = self.pipeline.sampler_state if self.pipeline is not None else self.sampler.state_dict()
        return {"optimizer": self.optimizer.state_dict(), "sampler": sampler,
                "num_updates": self.num_updates, "config": self.config.model_dump()}

    def save(self, step: int) -> Path:
        """Checkpoint after `step` steps (rank 0 only under torchrun)."""
        state = self.state_dict()
        if self.dp.enabled:  # every rank's sampler position: a resumed rank continues its own task stream
            state["rank_samplers"] = self.dp.gather_objects(state["sampler"])
        if not self.dp.is_main:
            self.dp.barrier()  # the checkpoint is complete when any rank returns
            return self.out_dir / "checkpoints"
        path = save_checkpoint(self.out_dir / "checkpoints", step, self.model, state)
        self.dp.barrier()
        return path

    def resume(self) -> int:
        """Load the latest checkpoint if any; returns the number of steps already done."""
        path = latest_checkpoint(self.out_dir / "checkpoints")
        if path is None:
            return 0
        state = load_checkpoint(path, self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state["sampler"])
        if self.dp.enabled and len(state.get("rank_samplers") or []) == self.dp.world_size:
            self.sampler.load_state_dict(state["rank_samplers"][self.dp.rank])
        self.num_updates = int(state["num_updates"])
        if self.reference is not None and not has_lora(self.model):
            from safetensors.torch import load_file

            self.reference.load_state_dict(load_file(str(self.out_dir / "reference.safetensors")))
        return int(state["step"])

    # the loop
    def train(self, *, resume: bool = False) -> list[dict[str, Any]]:
        """Run until `config.steps` steps are done; returns every step's metrics (also in OUT/metrics.jsonl)."""
        c = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        done = self.resume() if resume else 0
        if self.reference is not None and not has_lora(self.model) and done == 0 and self.dp.is_main:
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in self.reference.state_dict().items()},
                      str(self.out_dir / "reference.safetensors"))
        logger = (MetricsLogger(self.out_dir, tensorboard=c.tensorboard, resume_step=done) if self.dp.is_main
                  else _MemoryLogger())
        if self.dp.is_main:
            self.write_heldout_record()
        progress = _progress(c.progress)
        started, last = time.perf_counter(), done
        try:
            with progress:
                bar = progress.add_task("GRPO", total=c.steps, completed=done, reward=0.0)
                for step in range(done, c.steps):
                    metrics = self.step(step)
                    every = c.heldout.every
                    if every and self.run_tasks.heldout and self.dp.is_main and ((step + 1) % every == 0
                                                                             or step + 1 == c.steps):
                        metrics.update(self.evaluate_heldout(step))
                    logger.log(step, metrics)
                    if self.on_step is not None:
                        self.on_step(step, metrics)
                    progress.update(bar, advance=1, reward=metrics["reward_mean"])
                    last = step + 1
                    over = c.time_budget_s is not None and time.perf_counter() - started > c.time_budget_s
                    if self.dp.min_int(int(not over)) == 0:  # every rank stops after the same step
                        break
                    if c.checkpoint_every and (step + 1) % c.checkpoint_every == 0 and step + 1 < c.steps:
                        self.save(step + 1)
            self.save(last)
        finally:
            logger.close()
            self.backend.close()
            if self.pipeline is not None:
                self.pipeline.close()
        if not self.dp.is_main:
            return logger.records
        records = read_metrics(logger.path)
        plot_reward_curve(records, self.out_dir / "reward_curve.png")
        return records


class _MemoryLogger:
    """The metrics logger of ranks other than 0: keeps the records, writes nothing."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self.records.append({"step": step, **metrics})

    def close(self) -> None:
        pass


def _progress(enabled: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("reward {task.fields[reward]:.3f}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    disable=not enabled)
