"""MoE experts: grouped matmul (F.grouped_mm) vs the per-expert loop, forward+backward, on the `small` config.

Times one MoE layer on N tokens and the whole `small` model on a (B, S) batch, same weights, 2 threads. The
"bound" column runs the same layer with the routed experts replaced by three dense matmuls of the same FLOPs (every
routed pair through one expert, no sort/gather/scatter): the fastest any grouped kernel on the same GEMM library
could be, so "max speed-up" = loop / bound caps what a grouped backend can reach on this machine.
Usage: python benchmarks/moe.py [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F
from agentgym.model.config import get_preset
from agentgym.model.moe import MoE
from agentgym.model.transformer import Transformer


def _time(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def dense_bound(experts, x: torch.Tensor, routing) -> torch.Tensor:
    """Same FLOPs as the routed experts with no routing at all: every (token, slot) pair through expert 0 as three
    plain matmuls. No grouped kernel built on the same GEMM library can beat this, so loop / bound is the best
    speed-up any grouped backend could reach on this machine."""
    k = routing.indices.shape[1]
    xs = x.repeat_interleave(k, dim=0)
    h = F.silu(xs @ experts.w1[0].T) * (xs @ experts.w3[0].T)
    ys = (h @ experts.w2[0].T) * routing.weights.reshape(-1, 1)
    return ys.view(-1, k, x.shape[-1]).sum(1)


def bench_layer(cfg, num_tokens: int, repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    moe = MoE(cfg)
    x = torch.randn(1, num_tokens, cfg.dim, requires_grad=True)
    def step(backend: str) -> None:
        moe.experts.backend = backend
        moe.experts.forward = ((lambda xx, routing, backend=None: dense_bound(moe.experts, xx, routing))
                               if backend == "bound" else type(moe.experts).forward.__get__(moe.experts))
        moe.zero_grad(set_to_none=True)
        y, _ = moe(x)
        y.square().mean().backward()

    times: dict[str, list[float]] = {"loop": [], "grouped": [], "bound": []}
    for rep in range(repeats + 1):  # interleaved, so a busy phase of a shared machine hits every variant
        for backend in ("loop", "grouped", "bound"):
            start = time.perf_counter()
            step(backend)
            if rep:  # the first round is a warm-up
                times[backend].append(time.perf_counter() - start)
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}


def bench_model(cfg, batch: int, seq: int, repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = Transformer(cfg.replace(index_n_heads=0, n_mtp_layers=0))
    tokens = torch.randint(0, cfg.vocab_size, (batch, seq))
    out = {}
    for backend in ("loop", "grouped"):
        for layer in model.layers:
            if isinstance(layer.ffn, MoE):
                layer.ffn.experts.backend = backend

        def step():
            model.zero_grad(set_to_none=True)
            logits = model(tokens).logits
            torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                              tokens[:, 1:].reshape(-1)).backward()
        out[backend] = _time(step, repeats)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = get_preset("small")
    print(f"small: E={cfg.n_routed_experts} top-{cfg.n_activated_experts}, dim {cfg.dim}, moe_inter "
          f"{cfg.moe_inter_dim}; {args.threads} threads; load avg {os.getloadavg()}")
    print(f"{'case':<28} {'loop ms':>9} {'grouped ms':>11} {'speed-up':>9} {'bound ms':>9} {'max speed-up':>13}")
    for n in (64, 512, 4096):
        r = bench_layer(cfg, n, args.repeats)
        print(f"{'MoE layer fwd+bwd N=' + str(n):<28} {r['loop'] * 1e3:9.2f} {r['grouped'] * 1e3:11.2f} "
              f"{r['loop'] / r['grouped']:8.2f}x {r['bound'] * 1e3:9.2f} {r['loop'] / r['bound']:12.2f}x")
    r = bench_model(cfg, 4, 256, max(2, args.repeats // 2))
    print(f"{'small model fwd+bwd 4x256':<28} {r['loop'] * 1e3:9.1f} {r['grouped'] * 1e3:11.1f} "
          f"{r['loop'] / r['grouped']:8.2f}x")


if __name__ == "__main__":
    main()
