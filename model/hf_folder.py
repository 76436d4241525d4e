"""Hugging Face checkpoint folders: load (config.json, safetensors shards, tokenizer.json, chat template) into our
Transformer and Tokenizer, and `save_hf` back to the same layout that transformers loads."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from .checkpoint import from_hf_state_dict, to_hf_state_dict
from .hf_config import SUPPORTED_LINE, config_from_hf, config_to_hf
from .layers import Rotary
from .tokenizer import Tokenizer
from .transformer import Transformer

WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
CHATML_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def is_hf_folder(path: str | os.PathLike) -> bool:
    """Does `path` look like an HF checkpoint folder (a directory with a config.json)?"""
    return Path(path).is_dir() and (Path(path) / "config.json").is_file()


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise FileNotFoundError(f"HF checkpoint folder {str(folder)!r} does not exist (a folder with config.json, "
                                f"model.safetensors or {WEIGHTS_INDEX}, tokenizer.json; {SUPPORTED_LINE})")
    missing = [n for n in ("config.json", "tokenizer.json") if not (folder / n).is_file()]
    if not (folder / WEIGHTS).is_file() and not (folder / WEIGHTS_INDEX).is_file():
        missing.append(f"{WEIGHTS} or {WEIGHTS_INDEX}")
    if missing:
        raise FileNotFoundError(f"HF checkpoint folder {str(folder)!r} lacks {', '.join(missing)}")


def read_hf_weights(folder: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every tensor of the folder's safetensors weights: one `model.safetensors`, or the shards its
    `model.safetensors.index.json` names."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if (folder / WEIGHTS_INDEX).is_file():
        index = json.loads((folder / WEIGHTS_INDEX).read_text(encoding="utf-8"))
        state: dict[str, torch.Tensor] = {}
        for shard in sorted(set(index["weight_map"].values())):
            state.update(load_file(str(folder / shard)))
        return state
    return load_file(str(folder / WEIGHTS))


def _special(value: Any) -> str | None:
    """A tokenizer_config special-token entry: a string or {"content": ...}."""
    return value.get("content") if isinstance(value, dict) else value


def load_hf_tokenizer(folder: str | os.PathLike) -> Tokenizer:
    """Tokenizer from tokenizer.json, its special tokens and Jinja chat template from tokenizer_config.json (or
    chat_template.jinja), stop ids from generation_config.json's eos_token_id when present."""
    from tokenizers import Tokenizer as HFTokenizer

    folder = Path(folder)
    backend = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    tok_cfg_path = folder / "tokenizer_config.json"
    tok_cfg = json.loads(tok_cfg_path.read_text(encoding="utf-8")) if tok_cfg_path.is_file() else {}
    template = tok_cfg.get("chat_template")
    if isinstance(template, list):  # [{"name": "default", "template": ...}, ...]
        template = next((t["template"] for t in template if t.get("name") == "default"), template[0]["template"])
    if (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text(encoding="utf-8")

    def token_id(key: str) -> int | None:
        name = _special(tok_cfg.get(key))
        return backend.token_to_id(name) if name else None

    eos = token_id("eos_token")
    if eos is None:
        raise ValueError(f"{tok_cfg_path}: no eos_token (needed to stop generation)")
    bos = token_id("bos_token")
    pad = token_id("pad_token")
    tokenizer = Tokenizer(backend, bos_id=eos if bos is None else bos, eos_id=eos, pad_id=eos if pad is None else pad,
                          default_system=None, template="jinja" if template else "chatml", chat_template=template)
    gen_path = folder / "generation_config.json"
    gen_eos = json.loads(gen_path.read_text(encoding="utf-8")).get("eos_token_id") if gen_path.is_file() else None
    if gen_eos is not None:
        extra = gen_eos if isinstance(gen_eos, list) else [gen_eos]
        tokenizer.stop_ids = sorted({eos, *map(int, extra)})
    return tokenizer


def load_hf_folder(path: str | os.PathLike, dtype: torch.dtype = torch.float32,
                   max_seq_len: int | None = None) -> tuple[Transformer, Tokenizer]:
    """(model in eval mode, tokenizer) of an HF checkpoint folder (Llama, Mistral, Qwen2/2.5, Qwen3, DeepSeek-V3).

    Raises:
        FileNotFoundError: the folder or one of its files is missing (one line naming it).
        UnsupportedHFConfig: the architecture or a feature of it is not supported (one line naming what is).
    """
    folder = Path(path)
    _check_folder(folder)
    hf_cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    state = read_hf_weights(folder)
    num_layers = int(hf_cfg.get("num_hidden_layers", 0))
    mtp_ids = {int(m.group(1)) for k in state if (m := re.match(r"model\.layers\.(\d+)\.", k))
               and int(m.group(1)) >= num_layers}
    cfg = config_from_hf(hf_cfg, num_mtp_layers=len(mtp_ids), max_seq_len=max_seq_len)
    # MTP layers of released V3 weights repeat the shared embedding and head: ours share them, drop the copies
    state = {k: v for k, v in state.items() if not re.search(r"\.(embed_tokens|shared_head\.head)\.weight$", k)
             or k == "model.embed_tokens.weight"}
    ours = from_hf_state_dict({k: v.float() for k, v in state.items()}, cfg)
    with torch.device("meta"):  # skip random init: every weight comes from the folder
        model = Transformer(cfg)
    missing, unexpected = model.load_state_dict(ours, strict=False, assign=True)
    missing = [k for k in missing if not k.endswith("gate.bias")]  # HF V3 without a bias tensor: zeros
    if missing or unexpected:
        raise ValueError(f"load_hf_folder({str(folder)!r}): missing {missing}, unexpected {unexpected}")
    for module in model.modules():
        if isinstance(module, Rotary):  # the non-persistent rope tables are not in the state dict
            module.reset_tables("cpu")
            continue
        for attr, buffer in list(module.named_buffers(recurse=False)):
            if buffer.is_meta:  # gate biases absent from the file, MoE load counters
                setattr(module, attr, torch.zeros(buffer.shape, dtype=torch.float32))
    return model.to(dtype).eval(), load_hf_tokenizer(folder)


def save_hf(model: Transformer, tokenizer: Tokenizer | None, folder: str | os.PathLike,
            max_shard_bytes: int | None = None) -> Path:
    """Write `model` (and `tokenizer`) as an HF checkpoint folder that `transformers.AutoModelForCausalLM` loads.

    config.json (the family follows from the config: see `hf_config.hf_model_type`), model.safetensors (or shards
    of at most `max_shard_bytes` with model.safetensors.index.json), tokenizer.json and tokenizer_config.json with
    the chat template (the tokenizer's own Jinja template; ChatML's for "chatml"). Returns the folder.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
    hf_state = {k: v.clone() for k, v in to_hf_state_dict(state, model.cfg).items()}
    extra = {}
    if tokenizer is not None:
        extra = {"bos_token_id": tokenizer.bos_id, "eos_token_id": tokenizer.eos_id, "pad_token_id": tokenizer.pad_id}
    (folder / "config.json").write_text(json.dumps(config_to_hf(model.cfg, extra), indent=2), encoding="utf-8")
    shards = _shards(hf_state, max_shard_bytes)
    if len(shards) == 1:
        save_file(shards[0], str(folder / WEIGHTS), metadata={"format": "pt"})
    else:
        weight_map = {}
        for i, shard in enumerate(shards, start=1):
            name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            save_file(shard, str(folder / name), metadata={"format": "pt"})
            weight_map.update(dict.fromkeys(shard, name))
        total = sum(v.numel() * v.element_size() for v in hf_state.values())
        index = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (folder / WEIGHTS_INDEX).write_text(json.dumps(index, indent=2), encoding="utf-8")
    if tokenizer is not None:
        _save_tokenizer(tokenizer, folder)
    return folder


def _shards(state: dict[str, torch.Tensor], max_bytes: int | None) -> list[dict[str, torch.Tensor]]:
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, value in state.items():
        nbytes = value.numel() * value.element_size()
        if max_bytes and shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = value
        size += nbytes
    return shards


def _save_tokenizer(tokenizer: Tokenizer, folder: Path) -> None:
    if tokenizer.template == "deepseek":
        raise ValueError("save_hf: the hand-written DeepSeek chat format has no Jinja template to export")
    (folder / "tokenizer.json").write_text(tokenizer.backend.to_str(), encoding="utf-8")
    name = tokenizer.backend.id_to_token
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": name(tokenizer.bos_id),
              "eos_token": name(tokenizer.eos_id), "pad_token": name(tokenizer.pad_id),
              "chat_template": tokenizer.chat_template or CHATML_TEMPLATE}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
