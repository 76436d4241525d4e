"""LoRA through PEFT on the tiny preset: only adapters train, the base stays bit-identical and is the KL reference,
the engine samples with the adapters, checkpoints hold adapters only and resume exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("peft")

from agentgym.envs.echo_letter import EchoLetterEnv  # noqa: E402
from agentgym.rl.build import build_model  # noqa: E402
from agentgym.rl.config import ConfigError, parse_config  # noqa: E402
from agentgym.rl.lora import FrozenBase, apply_lora, is_adapter_name, resolve_targets  # noqa: E402
from agentgym.rl.trainer import GRPOTrainer  # noqa: E402


def lora_config(out: Path, steps: int = 2, **model: object) -> object:
    return parse_config({
        "envs": [{"name": "echo", "num_tasks": 16, "kl_beta": 0.05}],
        "model": {"preset": "tiny", "overrides": {"vocab_size": 16}, "max_seq_len": 64,
                  "lora": {"r": 4, "alpha": 8, "target_modules": ["q_a_proj", "q_b_proj", "o_proj", "gate_proj",
                                                                  "up_proj", "down_proj"]}, **model},
        "sampling": {"max_new_tokens": 2, "max_turns": 1},
        "steps": steps, "groups_per_step": 4, "group_size": 4, "checkpoint_every": 1,
        "optim": {"lr": 3e-2}, "out_dir": str(out), "progress": False, "seed": 3,
    })


def _trainer(config) -> GRPOTrainer:
    return GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())


def _base(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if not is_adapter_name(f".{k}")}


def _adapters(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if is_adapter_name(f".{k}")}


def test_only_adapters_train_base_is_bit_identical_and_is_the_kl_reference(tmp_path):
    torch.manual_seed(0)
    trainer = _trainer(lora_config(tmp_path / "run"))
    model = trainer.model
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(is_adapter_name(f".{n}") for n in trainable)
    assert {id(p) for p in trainer.params} == {id(p) for p in model.parameters() if p.requires_grad}
    assert isinstance(trainer.reference, FrozenBase)  # no second copy of the weights
    base_before, adapters_before = _base(model), _adapters(model)
    plain = build_model(lora_config(tmp_path / "plain", lora=None))[0]  # the same preset and seed, no adapters
    tokens = torch.randint(0, 16, (2, 9), generator=torch.Generator().manual_seed(0))
    engine = trainer.backend.policy.engine
    prompt = [[1, 2, 3, 4]]
    from agentgym.model.sampling_params import SamplingParams

    params = SamplingParams(max_new_tokens=6, temperature=1.0, seed=5, ignore_eos=True)
    sampled_before = engine.generate(prompt, params)[0]

    trainer.train()

    after = _base(model)
    assert after.keys() == base_before.keys()
    assert all(torch.equal(after[k], base_before[k]) for k in after), "a base weight changed"
    changed = [k for k, v in _adapters(model).items() if not torch.equal(v, adapters_before[k])]
    assert changed and any("lora_B" in k for k in changed)
    with torch.no_grad():
        reference = trainer.reference(tokens).logits
        assert torch.equal(reference, plain(tokens).logits)  # KL reference = the frozen base, exactly
        assert not torch.allclose(model(tokens).logits, reference)  # the adapters do act
    sampled_after = engine.generate(prompt, params)[0]
    assert sampled_after.logprobs != sampled_before.logprobs  # the engine samples with the updated adapters


def test_checkpoint_holds_adapters_only_and_resume_is_exact(tmp_path):
    torch.manual_seed(0)
    straight = _trainer(lora_config(tmp_path / "a", steps=2))
    straight.train()
    ckpt = tmp_path / "a" / "checkpoints" / "step_000002" / "model.safetensors"
    from safetensors.torch import load_file

    saved = load_file(str(ckpt))
    assert saved and all(is_adapter_name(f".{k}") for k in saved)
    full_bytes = sum(v.numel() * v.element_size() for v in straight.model.state_dict().values())
    assert ckpt.stat().st_size < full_bytes / 10
    assert not (tmp_path / "a" / "reference.safetensors").exists()

    torch.manual_seed(0)
    _trainer(lora_config(tmp_path / "b", steps=1)).train()
    torch.manual_seed(123)  # resume restores every RNG it needs
    resumed = _trainer(lora_config(tmp_path / "b", steps=2))
    resumed.train(resume=True)
    a, b = _adapters(straight.model), _adapters(resumed.model)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_targets_accept_hf_and_our_names_and_refuse_what_cannot_work():
    from agentgym.model import Transformer, get_preset

    model = Transformer(get_preset("tiny"))
    assert resolve_targets(model, ["q_a_proj", "wo"]) == ["wq_a", "wo"]
    assert "wkv_b" not in resolve_targets(model, None)
    with pytest.raises(ValueError, match="kv_b_proj/wkv_b cannot take an adapter"):
        resolve_targets(model, ["kv_b_proj"])
    with pytest.raises(ValueError, match=r"\['q_proj'\] match no projection"):
        resolve_targets(model, ["q_proj"])  # tiny uses q_lora_rank > 0: q_a_proj/q_b_proj
    apply_lora(model, r=2, alpha=4)
    assert not any(".indexer." in n for n, p in model.named_parameters() if p.requires_grad)


def test_trainer_refuses_a_model_without_the_configured_adapters(tmp_path):
    config = lora_config(tmp_path / "run")
    model, tokenizer = build_model(lora_config(tmp_path / "plain", lora=None))
    with pytest.raises(ValueError, match="model.lora is set but the model has no adapters"):
        GRPOTrainer(config, make_env=lambda name: EchoLetterEnv(), model=model, tokenizer=tokenizer)


def test_lora_config_is_refused_off_the_engine(tmp_path):
    with pytest.raises(ConfigError, match="model.lora runs on the embedded engine only"):
        parse_config({"envs": [{"name": "echo"}], "model": {"lora": {"r": 4}}, "rollout": {"backend": "vllm"}})


def test_engine_with_packed_weights_samples_with_the_adapters():
    from agentgym.model import Engine, EngineConfig, ModelConfig, SamplingParams, Transformer
    from agentgym.rl.lora import adapters_disabled

    torch.manual_seed(0)  # dim 256: the projections are large enough for the engine's oneDNN packs
    cfg = ModelConfig(attn_type="gqa", n_routed_experts=0, n_layers=2, n_dense_layers=2, dim=256, inter_dim=512,
                      n_heads=4, n_kv_heads=2, vocab_size=64, max_seq_len=64, n_mtp_layers=0)
    model = Transformer(cfg)
    apply_lora(model, r=4, alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    params = SamplingParams(max_new_tokens=6, temperature=1.0, seed=7, ignore_eos=True)
    packed = Engine(model, None, EngineConfig(max_batch_size=2, max_seq_len=32))
    plain = Engine(model, None, EngineConfig(max_batch_size=2, max_seq_len=32, pack_weights=False))
    base = packed.generate([[1, 2, 3]], params)[0]
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    adapted = packed.generate([[1, 2, 3]], params)[0]
    assert packed._packs is not None and packed._packs.groups  # packs are in use ...
    assert adapted.logprobs != base.logprobs  # ... and the adapters still act through them
    reference = plain.generate([[1, 2, 3]], params)[0]
    assert adapted.token_ids == reference.token_ids
    assert max(abs(a - b) for a, b in zip(adapted.logprobs, reference.logprobs)) < 1e-4
    with adapters_disabled(model):
        again = packed.generate([[1, 2, 3]], params)[0]
    assert again.token_ids == base.token_ids and again.logprobs == base.logprobs


def test_hf_folder_model_section_with_lora(tmp_path):
    """`model: {pretrained: FOLDER, lora: ...}` builds the HF model with adapters that start as the identity."""
    import importlib.util

    pytest.importorskip("transformers")
    path = Path(__file__).resolve().parents[1] / "model" / "test_hf_folder.py"
    spec = importlib.util.spec_from_file_location("hf_folder_helpers", path)
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    hf = helpers._hf_model("qwen2", tmp_path / "qwen")
    config = parse_config({"envs": [{"name": "echo"}], "model": {
        "pretrained": str(tmp_path / "qwen"), "max_seq_len": 64, "lora": {"r": 4, "target_modules": ["q_proj"]}}})
    model, tokenizer = build_model(config)
    assert tokenizer.template == "jinja"
    assert [n for n, p in model.named_parameters() if p.requires_grad] == [
        f"layers.{i}.attn.wq.lora_{ab}.default.weight" for i in range(2) for ab in "AB"]
    tokens = torch.randint(3, helpers.VOCAB, (1, 12))
    assert helpers._max_logit_diff(hf, model, tokens) <= 1e-4
