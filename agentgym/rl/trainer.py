"""The GRPO trainer loop: sampler → rollout collector → advantages → loss updates → metrics and checkpoints.

Each part lives in its own module; this file only wires them. One step: reseed the policy from the step, collect
`groups_per_step` informative groups (DAPO refill), shape rewards, compute group advantages, build the segments, then
`epochs × num_minibatches` AdamW updates on the kernels' GRPO loss (with per-env β KL against a frozen reference),
and log. Everything random is derived from (seed, step), so `resume=True` continues bit for bit.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from agentgym.api import Trajectory
from agentgym.rl.advantages import group_advantages
from agentgym.rl.build import EnvFactory, build_model, build_pools, default_env_factory
from agentgym.rl.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from agentgym.rl.collector import Collection, RolloutCollector
from agentgym.rl.config import TrainConfig
from agentgym.rl.logprobs import batch_logprobs
from agentgym.rl.loss import minibatch_loss
from agentgym.rl.metrics import MetricsLogger, plot_reward_curve, read_metrics
from agentgym.rl.rewards import shaped_reward
from agentgym.rl.sampler import MixedTaskSampler
from agentgym.rl.schedule import lr_at
from agentgym.rl.sequences import Segment, collate, trajectory_segments
from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig


class GRPOTrainer:
    """One mixed-env GRPO run.

    Args:
        config: the validated `TrainConfig`.
        make_env: env name -> env (default: `agentgym.make` with the mix's kwargs).
        model, tokenizer: use these instead of building from `config.model` (both or neither).
        on_step: called with (step, metrics) after every step (progress reporting, tests).
    """

    def __init__(self, config: TrainConfig, *, make_env: EnvFactory | None = None, model: Any = None,
                 tokenizer: Any = None, on_step: Callable[[int, dict], None] | None = None) -> None:
        from agentgym.model import Engine, EngineConfig
        from agentgym.model.kernels import GRPOLossConfig

        self.config = config
        self.out_dir = Path(config.out_dir)
        self.make_env = make_env or default_env_factory(config)
        if (model is None) != (tokenizer is None):
            raise ValueError("GRPOTrainer: pass both model and tokenizer, or neither")
        self.model, self.tokenizer = (model, tokenizer) if model is not None else build_model(config)
        self.betas = {e.name: e.kl_beta for e in config.envs}
        self.tool_names: dict[str, frozenset[str]] = {}
        self.reference = None
        if any(b > 0 for b in self.betas.values()):
            self.reference = copy.deepcopy(self.model).requires_grad_(False).eval()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        o = config.optim
        self.optimizer = torch.optim.AdamW(self.params, lr=o.lr, betas=o.betas, weight_decay=o.weight_decay)
        self.loss_config = GRPOLossConfig(clip_low=config.loss.clip_low, clip_high=config.loss.clip_high,
                                          aggregation=config.loss.aggregation,
                                          importance_level=config.loss.importance_level,
                                          off_policy_threshold=config.loss.off_policy_threshold,
                                          max_tokens=config.loss.max_tokens)
        s = config.sampling
        engine = Engine(self.model, self.tokenizer, EngineConfig(max_batch_size=config.model.max_batch,
                                                                 max_seq_len=config.model.max_seq_len))
        self.policy = EnginePolicy(engine, EnginePolicyConfig(temperature=s.temperature, top_p=s.top_p,
                                                              top_k=s.top_k, max_new_tokens=s.max_new_tokens,
                                                              max_batch=config.model.max_batch, seed=config.seed,
                                                              ignore_eos=s.ignore_eos))
        pools, self.tool_names = build_pools(config, self.make_env)
        self.sampler = MixedTaskSampler(pools, seed=config.seed)
        t = config.techniques
        self.collector = RolloutCollector(self.sampler, self.make_env, self.policy, self.reward_of,
                                          group_size=config.group_size, max_turns=s.max_turns,
                                          concurrency=config.concurrency, dynamic_filtering=t.dynamic_filtering,
                                          max_refill_rounds=t.max_refill_rounds)
        self.num_updates = 0
        self.step_index = 0
        self.on_step = on_step

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
        rewards = torch.tensor([g.rewards for g in collection.groups])
        advantages = group_advantages(rewards, normalize_std=self.config.techniques.normalize_std)
        segments = []
        for g, adv in zip(collection.groups, advantages.tolist()):
            for t, a in zip(g.trajectories, adv):
                segments += trajectory_segments(t, bos_id=self.tokenizer.bos_id, advantage=a,
                                                beta=self.betas.get(g.env, 0.0),
                                                mask_tool_outputs=self.config.techniques.mask_tool_outputs)
        return segments

    def update(self, segments: list[Segment], step: int) -> dict[str, float]:
        """`epochs × num_minibatches` optimizer updates on `segments`; returns the mean loss metrics."""
        c = self.config
        if not segments:
            return {}
        order = torch.randperm(len(segments), generator=torch.Generator().manual_seed(c.seed * 100_003 + step))
        parts = [p for p in torch.tensor_split(order, min(c.num_minibatches, len(segments))) if len(p)]
        cfg = self.model.cfg
        top_k = cfg.n_activated_experts if cfg.n_routed_experts else 0
        batches = [collate([segments[i] for i in p.tolist()], pad_id=self.tokenizer.pad_id,
                           num_moe_layers=self.model.num_moe_layers, top_k=top_k) for p in parts]
        kw = {"temperature": c.sampling.temperature, "keep_routing": c.techniques.keep_routing,
              "keep_sampling_mask": c.techniques.keep_sampling_mask, "kernel_path": c.kernel_path}
        refs = [None] * len(batches)
        with torch.no_grad():
            if self.reference is not None:
                refs = [batch_logprobs(self.reference, b, **kw) for b in batches]
            if c.recompute_old_logprobs:
                for b in batches:
                    lp = batch_logprobs(self.model, b, **kw)
                    b.old_logprobs = torch.where(b.trained > 0, lp, b.old_logprobs)
        sums: dict[str, float] = {}
        for _ in range(c.epochs):
            for batch, ref in zip(batches, refs):
                lr = lr_at(self.num_updates, base_lr=c.optim.lr, total_steps=c.steps * c.epochs * len(batches),
                           warmup_steps=c.optim.warmup_steps, schedule=c.optim.schedule,
                           min_lr_ratio=c.optim.min_lr_ratio)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                logprobs = batch_logprobs(self.model, batch, **kw)
                out = minibatch_loss(logprobs, batch, config=self.loss_config, ref_logprobs=ref,
                                     kernel_path=c.kernel_path)
                self.optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(self.params, c.optim.grad_clip or float("inf"))
                self.optimizer.step()
                self.num_updates += 1
                values = {"loss": float(out.loss.detach()), "grad_norm": float(norm), "lr": lr,
                          **{k: float(v) for k, v in out.metrics.items()}}
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
        n = c.epochs * len(batches)
        return {k: v / n for k, v in sums.items()}

    def step(self, step: int) -> dict[str, Any]:
        """Collect, update and return this step's metrics."""
        start = time.perf_counter()
        self.policy.reseed(self.config.seed * 1_000_003 + step)
        self.policy.policy_version = step
        collection = self.collector.collect(self.config.groups_per_step, seed=self.config.seed * 10_007 + step)
        collect_s = time.perf_counter() - start
        segments = self.segments_of(collection)
        metrics: dict[str, Any] = self.update(segments, step)
        rewards = collection.all_rewards
        per_env: dict[str, list[float]] = {}
        for g in collection.groups:
            per_env.setdefault(g.env, []).extend(g.rewards)
        metrics.update({
            "reward_mean": sum(rewards) / max(1, len(rewards)),
            "num_episodes": collection.num_episodes, "num_groups": len(collection.groups),
            "num_filtered": collection.num_filtered, "num_failed": collection.num_failed,
            "num_rounds": collection.num_rounds, "num_segments": len(segments),
            "num_trained_tokens": int(sum(sum(s.trained) for s in segments)),
            "collect_s": collect_s, "step_s": time.perf_counter() - start,
            **{f"reward/{k}": sum(v) / len(v) for k, v in per_env.items()},
        })
        return metrics

    # checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "sampler": self.sampler.state_dict(),
                "num_updates": self.num_updates, "config": self.config.model_dump()}

    def save(self, step: int) -> Path:
        """Checkpoint after `step` steps."""
        return save_checkpoint(self.out_dir / "checkpoints", step, self.model, self.state_dict())

    def resume(self) -> int:
        """Load the latest checkpoint if any; returns the number of steps already done."""
        path = latest_checkpoint(self.out_dir / "checkpoints")
        if path is None:
            return 0
        state = load_checkpoint(path, self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state["sampler"])
        self.num_updates = int(state["num_updates"])
        if self.reference is not None:
            from safetensors.torch import load_file

            self.reference.load_state_dict(load_file(str(self.out_dir / "reference.safetensors")))
        return int(state["step"])

    # the loop
    def train(self, *, resume: bool = False) -> list[dict[str, Any]]:
        """Run until `config.steps` steps are done; returns every step's metrics (also in OUT/metrics.jsonl)."""
        c = self.config
        self.out_dir.mkdir(parents=True, exist_ok=True)
        done = self.resume() if resume else 0
        if self.reference is not None and done == 0:
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in self.reference.state_dict().items()},
                      str(self.out_dir / "reference.safetensors"))
        logger = MetricsLogger(self.out_dir, tensorboard=c.tensorboard, resume_step=done)
        progress = _progress(c.progress)
        started, last = time.perf_counter(), done
        try:
            with progress:
                bar = progress.add_task("GRPO", total=c.steps, completed=done, reward=0.0)
                for step in range(done, c.steps):
                    metrics = self.step(step)
                    logger.log(step, metrics)
                    if self.on_step is not None:
                        self.on_step(step, metrics)
                    progress.update(bar, advance=1, reward=metrics["reward_mean"])
                    last = step + 1
                    if c.time_budget_s is not None and time.perf_counter() - started > c.time_budget_s:
                        break
                    if c.checkpoint_every and (step + 1) % c.checkpoint_every == 0 and step + 1 < c.steps:
                        self.save(step + 1)
            self.save(last)
        finally:
            logger.close()
        records = read_metrics(logger.path)
        plot_reward_curve(records, self.out_dir / "reward_curve.png")
        return records


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
