"""Peak memory and time of a logprob + GRPO-loss forward/backward: chunked kernels vs materialized logits (TRL-style).

Run: ``python benchmarks/logprob_loss.py [--sizes 2048 8192] [--threads 2]``.

Each (variant, N) runs in a fresh subprocess. Peak memory is the growth of the process's resident set during the
timed step: the worker resets the kernel's peak-RSS counter (``echo 5 > /proc/self/clear_refs``) after building its
inputs, runs forward+backward, and reports ``VmHWM - VmRSS_before`` from ``/proc/self/status``. That counts every
byte the step touched (torch tensors, allocator slack, MKL scratch), which torch's own counters do not on CPU. Where
clear_refs is not writable it falls back to ``ru_maxrss`` minus the RSS before the step (an upper bound is not
guaranteed then, and the output says which method was used).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time

VOCAB, HIDDEN, SEQ_LEN, TEMPERATURE = 49152, 576, 512, 0.9


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+)", f.read(), re.M).group(1))


def _reset_peak() -> str:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return "VmHWM after clear_refs"
    except OSError:
        return "ru_maxrss"


def _peak_kib(method: str) -> int:
    return _status_kib("VmHWM") if method.startswith("VmHWM") else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def worker(variant: str, num_tokens: int, threads: int) -> dict:
    """Build inputs, run one forward+backward of ``variant``, report seconds and peak RSS growth."""
    import gc

    import torch

    from agentgym.model.kernels import GRPOLossConfig, grpo_loss, linear_grpo_loss, linear_logprob

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(num_tokens, HIDDEN, generator=gen).requires_grad_()
    weight = (torch.randn(VOCAB, HIDDEN, generator=gen) * 0.05).requires_grad_()
    targets = torch.randint(0, VOCAB, (num_tokens,), generator=gen)
    num_seqs = num_tokens // SEQ_LEN
    with torch.no_grad():
        base, _ = linear_logprob(hidden, weight, targets, temperature=TEMPERATURE)
    old = (base + 0.05 * torch.randn(num_tokens, generator=gen)).view(num_seqs, SEQ_LEN)
    ref = (base + 0.05 * torch.randn(num_tokens, generator=gen)).view(num_seqs, SEQ_LEN)
    advantages = torch.randn(num_seqs, generator=gen)
    loss_mask = torch.rand(num_seqs, SEQ_LEN, generator=gen) > 0.1
    config = GRPOLossConfig(kl_beta=0.04, off_policy_threshold=0.5)
    del base
    gc.collect()
    method = _reset_peak()
    rss_before = _status_kib("VmRSS")
    start, cpu_start = time.perf_counter(), time.process_time()
    if variant == "fused":
        out = linear_grpo_loss(hidden.view(num_seqs, SEQ_LEN, HIDDEN), weight, targets.view(num_seqs, SEQ_LEN), old,
                               advantages, loss_mask, config=config, temperature=TEMPERATURE, ref_logprobs=ref)
    else:
        if variant == "naive":
            logits = (hidden @ weight.T).float() / TEMPERATURE
            logp_all = torch.log_softmax(logits, dim=-1)
            logprobs = logp_all.gather(1, targets[:, None]).squeeze(1)
            with torch.no_grad():
                entropy = -(logp_all.exp() * logp_all).sum(dim=-1)
        else:
            logprobs, entropy = linear_logprob(hidden, weight, targets, temperature=TEMPERATURE, with_entropy=True)
        out = grpo_loss(logprobs.view(num_seqs, SEQ_LEN), old, advantages, loss_mask, config=config,
                        ref_logprobs=ref, entropy=entropy.detach().view(num_seqs, SEQ_LEN), path="cpu")
    out.loss.backward()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    peak_gib = (_peak_kib(method) - rss_before) / 2**20
    return {
        "variant": variant, "num_tokens": num_tokens, "seconds": seconds, "cpu_seconds": cpu_seconds,
        "peak_gib": peak_gib, "entropy": float(out.metrics["entropy"]), "method": method,
        "loss": float(out.loss), "grad_norm": float(weight.grad.norm()), "hidden_grad_norm": float(hidden.grad.norm()),
    }


VARIANTS = {
    "naive": "materialized fp32 logits + log_softmax().gather() (TRL), then grpo_loss(path='cpu') -- the baseline",
    "chunked": "linear_logprob (chunked autograd Function, recompute in backward) then grpo_loss(path='cpu')",
    "fused": "linear_grpo_loss (chunked, dh/dW formed during forward: 3 GEMMs instead of 4)",
}


def _run_worker(variant: str, num_tokens: int, threads: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", variant, str(num_tokens), "--threads", str(threads)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--worker", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.threads)))
        return
    print(f"V={VOCAB} H={HIDDEN} T={SEQ_LEN} tokens/seq, temperature={TEMPERATURE}, fp32, {args.threads} torch threads,"
          f" os.getloadavg()={tuple(round(x, 2) for x in os.getloadavg())}")
    for name in args.variants:
        print(f"  {name:8s} {VARIANTS[name]}")
    print("memory: peak RSS growth of a fresh process during forward+backward (see module docstring);")
    print("cpu s: process CPU time (user+sys), less sensitive than wall time to other load on the machine\n")
    header = (f"{'N':>6} {'variant':>8} | {'wall s':>7} {'cpu s':>7} {'peak GiB':>9} | {'wall/naive':>10} "
              f"{'cpu/naive':>9} {'mem/naive':>9} | {'loss':>10} {'|dW|':>9}")
    print(header)
    print("-" * len(header))
    for num_tokens in args.sizes:
        rows = {variant: _run_worker(variant, num_tokens, args.threads) for variant in args.variants}
        base = rows.get("naive")
        for variant, row in rows.items():
            ratios = (f"{row['seconds'] / base['seconds']:>10.2f} {row['cpu_seconds'] / base['cpu_seconds']:>9.2f} "
                      f"{row['peak_gib'] / base['peak_gib']:>9.3f}") if base else f"{'-':>10} {'-':>9} {'-':>9}"
            print(f"{num_tokens:>6} {variant:>8} | {row['seconds']:>7.2f} {row['cpu_seconds']:>7.2f} "
                  f"{row['peak_gib']:>9.3f} | {ratios} | {row['loss']:>10.6f} {row['grad_norm']:>9.6f}")
    print(f"\nmemory method: {next(iter(rows.values()))['method']}; ratios are variant / naive (lower is better);")
    print("targets at N=8192: mem/naive <= 0.125 and time <= naive")


if __name__ == "__main__":
    main()
