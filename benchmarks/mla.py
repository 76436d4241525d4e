"""MLA decode: absorbed (latent cache) vs naive (expanded K/V cache) on the `small` config at context 1k and 4k.

One decode step per row after the cache holds `ctx` tokens (filled with random values: the time does not depend
on them), batch 4, indexer off so only the attention layout differs, no output head (its 49152-wide matmul
would hide the attention), 2 threads. Prints cache bytes and time.
Usage: python benchmarks/mla.py [--threads 2] [--batch 4]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from agentgym.model.config import cache_bytes_per_token, get_preset
from agentgym.model.transformer import Transformer


def decode_time(model: Transformer, impl: str, batch: int, ctx: int, repeats: int) -> tuple[float, int]:
    cache = model.new_cache(batch, ctx + 1, attn_impl=impl)
    for layer in cache.layers:
        for buf in layer.tensors.values():
            buf.normal_()
    tokens = torch.randint(0, model.cfg.vocab_size, (batch, 1))
    positions = torch.full((batch, 1), ctx)
    with torch.inference_mode():
        model(tokens, positions, cache, attn_impl=impl, compute_logits=False)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(tokens, positions, cache, attn_impl=impl, compute_logits=False)
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], cache.num_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = get_preset("small").replace(index_n_heads=0, n_mtp_layers=0, max_seq_len=4097)
    model = Transformer(cfg).eval()
    naive_b, absorb_b = cache_bytes_per_token(cfg, attn_impl="naive"), cache_bytes_per_token(cfg, attn_impl="absorb")
    print(f"small: cache bytes/token fp32 naive {naive_b}, absorb {absorb_b} ({naive_b / absorb_b:.1f}x smaller); "
          f"batch {args.batch}, {args.threads} threads, load avg {os.getloadavg()}")
    print(f"{'ctx':>5} {'naive ms':>9} {'absorb ms':>10} {'speed-up':>9} "
          f"{'naive cache MiB':>16} {'absorb cache MiB':>17}")
    for ctx in (1024, 4096):
        tn, bn = decode_time(model, "naive", args.batch, ctx, args.repeats)
        ta, ba = decode_time(model, "absorb", args.batch, ctx, args.repeats)
        print(f"{ctx:5d} {tn * 1e3:9.2f} {ta * 1e3:10.2f} {tn / ta:8.2f}x {bn / 2**20:16.1f} {ba / 2**20:17.1f}")


if __name__ == "__main__":
    main()
