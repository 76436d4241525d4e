"""Transformer: cached decode equals the full pass (MLA and GQA), rows of different lengths, MTP and the indexer."""

from __future__ import annotations

import torch
from agentgym.model.config import get_preset
from agentgym.model.indexer import indexer_kl_loss
from agentgym.model.mtp import mtp_loss
from agentgym.model.transformer import Transformer


def _gqa_tiny():
    return get_preset("tiny").replace(attn_type="gqa", n_kv_heads=2, n_routed_experts=0, n_mtp_layers=0,
                                      index_n_heads=0, n_dense_layers=2)


def test_gqa_cached_decode_with_rows_of_different_lengths_matches_full_pass():
    torch.manual_seed(0)
    model = Transformer(_gqa_tiny()).eval()
    a, b = torch.randint(0, 512, (12,)), torch.randint(0, 512, (7,))
    with torch.no_grad():
        cache = model.new_cache(2, 32)
        padded = torch.stack([a[:6], torch.cat([b[:3], torch.zeros(3, dtype=torch.long)])])
        model(padded, cache=cache)  # right padding: row 1's slots 3..5 hold junk that decode overwrites
        lengths = [6, 3]
        outs = [[], []]
        for _ in range(4):
            step = torch.tensor([[a[lengths[0]]], [b[lengths[1]]]])
            logits = model(step, torch.tensor(lengths).view(2, 1), cache).logits
            for r in range(2):
                outs[r].append(logits[r, 0])
            lengths = [n + 1 for n in lengths]
        full_a, full_b = model(a[None]).logits[0], model(b[None]).logits[0]
    torch.testing.assert_close(torch.stack(outs[0]), full_a[6:10], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(torch.stack(outs[1]), full_b[3:7], atol=1e-5, rtol=1e-5)


def test_mtp_logits_shapes_and_loss_formula():
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny").replace(n_mtp_layers=2))
    tokens = torch.randint(0, 512, (2, 10))
    out = model(tokens)
    logits = model.mtp_logits(out.hidden, tokens)
    assert [tuple(x.shape) for x in logits] == [(2, 9, 512), (2, 8, 512)]
    ce = [torch.nn.functional.cross_entropy(logits[d - 1][:, : 10 - d - 1].reshape(-1, 512),
                                            tokens[:, d + 1:].reshape(-1)) for d in (1, 2)]
    loss = mtp_loss(logits, tokens, weight=0.3)
    torch.testing.assert_close(loss, 0.3 * (ce[0] + ce[1]) / 2)
    loss.backward()
    assert model.embed.weight.grad.abs().sum() > 0 and model.mtp[1].eh_proj.weight.grad.abs().sum() > 0


def test_indexer_scores_match_formula_and_restrict_attention_to_topk():
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny").replace(index_topk=4)).eval()
    tokens = torch.randint(0, 512, (1, 12))
    out = model(tokens, collect_aux=True)
    mask = out.aux["index_mask"][0]
    assert mask.sum(-1).tolist()[0] == [min(t + 1, 4) for t in range(12)]
    probs = out.aux["attn_probs"][0]
    assert (probs.masked_select(~mask.unsqueeze(2).expand_as(probs)) == 0).all()
    attn = model.layers[0].attn
    x = model.layers[0].attn_norm(model.embed(tokens))
    qr = attn.q_norm(attn.wq_a(x))
    idx = attn.indexer
    pos = torch.arange(12)[None]
    q = idx._rope_first(idx.wq_b(qr).view(1, 12, idx.n_heads, idx.head_dim), pos)
    k = idx._rope_first(idx.k_norm(idx.wk(x)).unsqueeze(2), pos).squeeze(2)
    w = idx.weights_proj(x) * idx.head_dim ** -0.5 * idx.n_heads ** -0.5
    want = torch.zeros(12, 12)
    for t in range(12):
        for s in range(t + 1):
            want[t, s] = sum(w[0, t, h] * torch.relu(q[0, t, h] @ k[0, s]) for h in range(idx.n_heads))
    got = out.aux["index_scores"][0][0]
    causal = torch.ones(12, 12).tril().bool()
    torch.testing.assert_close(got[causal], want[causal], atol=1e-5, rtol=1e-4)


def test_indexer_kl_loss_zero_iff_distributions_match_and_trains_only_indexer():
    torch.manual_seed(0)
    support = torch.ones(1, 3, 4, dtype=torch.bool).tril(diagonal=0) | torch.eye(3, 4, dtype=torch.bool)
    target = torch.rand(1, 3, 2, 4).masked_fill(~support.unsqueeze(2), 0)
    p = target.sum(2) / target.sum(2).sum(-1, keepdim=True)
    scores = p.clamp_min(1e-30).log().masked_fill(~support, -1e9).requires_grad_()
    assert indexer_kl_loss(target, scores, support).item() < 1e-5
    other = torch.zeros(1, 3, 4, requires_grad=True)
    loss = indexer_kl_loss(target.requires_grad_(), other, support)
    assert loss.item() > 1e-3
    loss.backward()
    assert other.grad.abs().sum() > 0 and target.grad is None


def test_detach_indexer_blocks_gradient_from_indexer_into_the_model():
    torch.manual_seed(0)
    model = Transformer(get_preset("tiny"))
    tokens = torch.randint(0, 512, (1, 12))
    for detach in (False, True):
        model.zero_grad()
        out = model(tokens, collect_aux=True, detach_indexer=detach)
        out.aux["index_scores"][0].masked_fill(~out.aux["index_mask"][0], 0).sum().backward()
        grad = model.layers[0].attn.wq_a.weight.grad
        assert (grad is None or grad.abs().sum() == 0) == detach
        assert model.layers[0].attn.indexer.wk.weight.grad.abs().sum() > 0


def test_balance_loss_is_positive_and_differentiable():
    model = Transformer(get_preset("tiny")).train()
    out = model(torch.randint(0, 512, (2, 8)))
    loss = model.balance_loss(out, batch=2)
    loss.backward()
    assert loss.item() > 0 and model.layers[1].ffn.gate.weight.grad.abs().sum() > 0
