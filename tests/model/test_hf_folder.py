"""HF checkpoint folders: tiny random transformers models of each family load with matching logits and greedy
tokens, export back to a folder transformers loads, and unsupported configs fail with one clear line."""

from __future__ import annotations

import json

import pytest
import torch

transformers = pytest.importorskip("transformers")

from agentgym.model.engine import Engine, EngineConfig  # noqa: E402
from agentgym.model.hf_config import UnsupportedHFConfig  # noqa: E402
from agentgym.model.hf_folder import load_hf_folder, save_hf  # noqa: E402
from agentgym.model.pretrained import load_pretrained  # noqa: E402
from agentgym.model.sampling_params import SamplingParams  # noqa: E402

VOCAB = 272
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] "
                 "+ '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
                 "{% endif %}")
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              max_position_embeddings=128, bos_token_id=1, eos_token_id=2)


def _families() -> dict:
    t = transformers
    return {
        "llama": lambda: t.LlamaConfig(**COMMON, num_key_value_heads=2,
                                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                     "high_freq_factor": 4.0,
                                                     "original_max_position_embeddings": 32}),
        "llama_tied": lambda: t.LlamaConfig(**COMMON, num_key_value_heads=4, tie_word_embeddings=True,
                                            rope_theta=500.0),
        "llama_linear_rope": lambda: t.LlamaConfig(**COMMON, num_key_value_heads=2, attention_bias=True,
                                                   rope_scaling={"rope_type": "linear", "factor": 2.0}),
        "mistral": lambda: t.MistralConfig(**COMMON, num_key_value_heads=2, sliding_window=64),
        "qwen2": lambda: t.Qwen2Config(**COMMON, num_key_value_heads=2),
        "qwen3": lambda: t.Qwen3Config(**COMMON, num_key_value_heads=2, head_dim=24),
        "deepseek_v3": lambda: t.DeepseekV3Config(
            **COMMON, moe_intermediate_size=32, first_k_dense_replace=1, num_key_value_heads=4, n_routed_experts=8,
            n_shared_experts=1, num_experts_per_tok=2, n_group=2, topk_group=1, q_lora_rank=32, kv_lora_rank=32,
            qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16),
        "deepseek_v3_no_q_lora": lambda: t.DeepseekV3Config(
            **COMMON, moe_intermediate_size=32, first_k_dense_replace=0, num_key_value_heads=4, n_routed_experts=4,
            n_shared_experts=2, num_experts_per_tok=2, n_group=1, topk_group=1, q_lora_rank=None, kv_lora_rank=16,
            qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8, routed_scaling_factor=1.5),
    }


def _write_tokenizer(folder) -> None:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {t: i for i, t in enumerate(SPECIALS + alphabet)}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIALS])
    assert [backend.token_to_id(t) for t in SPECIALS] == [0, 1, 2]
    backend.save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
              "pad_token": "<|endoftext|>", "chat_template": CHAT_TEMPLATE}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))


def _hf_model(family: str, folder, **save_kwargs):
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(_families()[family]()).eval()
    with torch.no_grad():  # random gate biases, so selection and combine weights differ (HF inits them to zero)
        for name, buf in hf.named_buffers():
            if name.endswith("e_score_correction_bias"):
                buf.copy_(torch.randn_like(buf) * 0.1)
    hf.save_pretrained(folder, **save_kwargs)
    _write_tokenizer(folder)
    return hf


def _max_logit_diff(hf, ours, tokens: torch.Tensor) -> float:
    with torch.no_grad():
        expected = hf(tokens).logits.float()
        got = ours(tokens).logits
    return float((expected - got).abs().max())


@pytest.mark.parametrize("family", list(_families()))
def test_family_matches_transformers(family, tmp_path):
    hf = _hf_model(family, tmp_path)
    model, tokenizer = load_hf_folder(tmp_path)
    tokens = torch.randint(3, VOCAB, (2, 40), generator=torch.Generator().manual_seed(1))
    assert _max_logit_diff(hf, model, tokens) <= 1e-4
    prompt = tokenizer.encode_chat([{"role": "user", "content": "hi there"}])
    assert tokenizer.decode(prompt).endswith("<|im_start|>assistant\n")
    engine = Engine(model, tokenizer, EngineConfig(max_batch_size=2, max_seq_len=64))
    [ours] = engine.generate([prompt], SamplingParams(max_new_tokens=8, temperature=0, ignore_eos=True))
    with torch.no_grad():
        theirs = hf.generate(torch.tensor([prompt]), max_new_tokens=8, min_new_tokens=8, do_sample=False,
                             eos_token_id=None, pad_token_id=0)
    assert ours.token_ids == theirs[0, len(prompt):].tolist()


def test_sharded_folder_and_export_round_trip(tmp_path):
    hf = _hf_model("qwen3", tmp_path / "in", max_shard_size="40KB")
    assert (tmp_path / "in" / "model.safetensors.index.json").is_file()
    model, tokenizer = load_pretrained(str(tmp_path / "in"))  # a folder path is the natural reading of `pretrained`
    save_hf(model, tokenizer, tmp_path / "out", max_shard_bytes=40_000)
    assert (tmp_path / "out" / "model.safetensors.index.json").is_file()
    back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    tokens = torch.randint(3, VOCAB, (1, 24))
    assert _max_logit_diff(back, model, tokens) <= 1e-5
    assert _max_logit_diff(hf, back, tokens) <= 1e-5
    fast = transformers.AutoTokenizer.from_pretrained(tmp_path / "out")
    text = fast.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert text == tokenizer.render_chat([{"role": "user", "content": "hi"}])


@pytest.mark.parametrize("family", ["llama_tied", "qwen2", "deepseek_v3"])
def test_export_round_trip_per_family(family, tmp_path):
    _hf_model(family, tmp_path / "in")
    model, tokenizer = load_hf_folder(tmp_path / "in")
    save_hf(model, tokenizer, tmp_path / "out")
    back = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    assert _max_logit_diff(back, model, torch.randint(3, VOCAB, (1, 24))) <= 1e-4


def test_missing_folder_and_unsupported_architecture_fail_in_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist .*supported model_type values: llama, mistral"):
        load_hf_folder(tmp_path / "nope")
    _hf_model("llama", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(UnsupportedHFConfig, match=r"^HF config: model_type 'gpt2' is not supported; supported "
                                                  r"model_type values: llama, mistral, qwen2 \(Qwen2/2.5\), qwen3, "
                                                  r"deepseek_v3 \(DeepSeek-V3-style MLA/MoE\)$"):
        load_hf_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "rope_parameters": {"rope_type": "yarn",
                                                                                    "factor": 4.0}}))
    with pytest.raises(UnsupportedHFConfig, match=r"rope scaling 'yarn'"):
        load_hf_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({**config, "quantization_config": {"quant_method": "fp8"}}))
    with pytest.raises(UnsupportedHFConfig, match=r"^HF config \(llama\): quantized weights \(quantization_config "
                                                  r"'fp8'; dequantize to bf16/fp32 first\) is not supported; "):
        load_hf_folder(tmp_path)


def test_older_config_json_spelling_and_parameter_count():
    """Checkpoints written before transformers 5 spell rope as `rope_theta` + `rope_scaling` (Qwen2.5 style)."""
    from agentgym.model import Transformer
    from agentgym.model.config import count_parameters
    from agentgym.model.hf_config import config_from_hf

    cfg = config_from_hf({"model_type": "qwen2", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
                          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                          "max_position_embeddings": 32768, "sliding_window": 4096, "use_sliding_window": False,
                          "rope_theta": 1000000.0, "rope_scaling": None, "tie_word_embeddings": True},
                         max_seq_len=512)
    assert (cfg.rope_theta, cfg.max_seq_len, cfg.qkv_bias, cfg.o_bias, cfg.tie_embeddings) == (1e6, 512, True,
                                                                                                False, True)
    llama3 = config_from_hf({"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
                             "num_hidden_layers": 1, "num_attention_heads": 4, "rope_theta": 500000.0,
                             "rope_scaling": {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                              "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})
    assert (llama3.rope_type, llama3.rope_factor, llama3.original_seq_len) == ("llama3", 32.0, 8192)
    for c in (cfg, cfg.replace(qk_norm=True, o_bias=True)):
        with torch.device("meta"):
            model = Transformer(c)
        assert count_parameters(c).total == sum(p.numel() for p in model.parameters())
