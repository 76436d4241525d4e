"""LoRA through PEFT on the embedded Transformer: adapters injected in place, the frozen base as the KL reference
(adapters switched off, no second copy), adapter-only checkpoints.

The adapters live inside the same module the rollout engine runs, so the engine samples with them at every step; its
packed weight copies cover only the frozen base projections (a LoRA layer runs its adapter through its own forward,
see `agentgym.model.layers.fusable`), so an update never leaves a packed copy stale.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

LORA_INSTALL = "pip install 'agentgym-rl[lora]'"
# HF projection names -> ours (either may be given in model.lora.target_modules)
HF_TO_OURS = {"q_proj": "wq", "k_proj": "wk", "v_proj": "wv", "o_proj": "wo", "gate_proj": "w1", "up_proj": "w3",
              "down_proj": "w2", "q_a_proj": "wq_a", "q_b_proj": "wq_b", "kv_a_proj_with_mqa": "wkv_a",
              "kv_b_proj": "wkv_b"}
# every projection LoRA can wrap: attention (GQA and MLA) and the dense/shared SwiGLU MLPs
DEFAULT_TARGETS = ("wq", "wk", "wv", "wo", "wq_a", "wq_b", "wkv_a", "w1", "w2", "w3")


def _peft() -> Any:
    try:
        import peft
    except ImportError as e:
        raise ImportError(f"model.lora needs the peft package: {LORA_INSTALL}") from e
    return peft


def resolve_targets(model: nn.Module, names: list[str] | None) -> list[str]:
    """Our module names for `names` (HF or ours; None: `DEFAULT_TARGETS`) that exist in `model` as nn.Linear.

    Raises:
        ValueError: a name matches no linear projection, or names MLA's wkv_b (the absorbed attention multiplies its
            weight directly, so an adapter on it would be skipped).
    """
    present = {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    if names is None:
        return [n for n in DEFAULT_TARGETS if n in present]
    ours = [HF_TO_OURS.get(n, n) for n in names]
    if "wkv_b" in ours:
        raise ValueError("model.lora.target_modules: kv_b_proj/wkv_b cannot take an adapter (MLA's absorbed attention "
                         "multiplies its weight directly)")
    unknown = [n for n, o in zip(names, ours) if o not in present]
    if unknown:
        raise ValueError(f"model.lora.target_modules: {unknown} match no projection of this model; it has "
                         f"{sorted(present & set(DEFAULT_TARGETS))} (HF names such as q_proj work too)")
    return ours


def apply_lora(model: nn.Module, *, r: int, alpha: float, dropout: float = 0.0,
               target_modules: list[str] | None = None) -> nn.Module:
    """Inject LoRA adapters (PEFT `inject_adapter_in_model`) into `model` in place and freeze everything else.

    The model keeps its class and methods (the engine and trainer see the same Transformer); `lora_B` starts at zero,
    so the adapted model equals the base until the first update. Returns `model`.
    """
    peft = _peft()
    has_indexer = any(name.endswith(".indexer") for name, _ in model.named_modules())
    config = peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, bias="none",
                             target_modules=resolve_targets(model, target_modules),
                             exclude_modules=r".*\.indexer\..*" if has_indexer else None)  # it has its own loss
    model.requires_grad_(False)
    peft.inject_adapter_in_model(config, model)
    for name, p in model.named_parameters():
        p.requires_grad_(is_adapter_name(name))
    model.lora_config = {"r": r, "alpha": alpha, "dropout": dropout, "target_modules": list(config.target_modules)}
    return model


def is_adapter_name(name: str) -> bool:
    return ".lora_" in name


def has_lora(model: nn.Module) -> bool:
    return getattr(model, "lora_config", None) is not None


def check_lora(model: nn.Module, section: Any) -> None:
    """Raise ValueError when the config's `model.lora` and the model disagree (a model built elsewhere and passed to
    the trainer without, or with other, adapters)."""
    if section is None and has_lora(model):
        raise ValueError("the model has LoRA adapters but the config has no model.lora")
    if section is not None:
        if not has_lora(model):
            raise ValueError("model.lora is set but the model has no adapters: build it with "
                             "agentgym.rl.build.build_model(config) or agentgym.rl.lora.apply_lora")
        if (model.lora_config["r"], model.lora_config["alpha"]) != (section.r, section.alpha):
            raise ValueError(f"model.lora asks for r={section.r}, alpha={section.alpha}; the model's adapters have "
                             f"r={model.lora_config['r']}, alpha={model.lora_config['alpha']}")


def _tuner_layers(model: nn.Module) -> list[Any]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [m for m in model.modules() if isinstance(m, BaseTunerLayer)]


@contextlib.contextmanager
def adapters_disabled(model: nn.Module) -> Iterator[nn.Module]:
    """Run `model` as its frozen base inside the block (what PEFT's `disable_adapter()` does for a PeftModel)."""
    layers = _tuner_layers(model)
    for layer in layers:
        layer.enable_adapters(False)
    try:
        yield model
    finally:
        for layer in layers:
            layer.enable_adapters(True)  # re-marks the active adapters trainable


@contextlib.contextmanager
def adapter_dropout(model: nn.Module) -> Iterator[None]:
    """Put the adapters' dropout in training mode inside the block (the trainer keeps the model in eval mode: no
    other dropout, MoE load counters off); the engine samples outside it, without dropout."""
    drops = [m for name, m in model.named_modules() if name.endswith("lora_dropout")]
    for m in drops:
        m.train()
    try:
        yield
    finally:
        for m in drops:
            m.eval()


class FrozenBase:
    """The KL reference of a LoRA model: the same module called with its adapters off (no second copy of weights).

    Quacks like the model for `batch_logprobs` (call, `norm`, `output_weight`, `cfg`; none of these are adapted).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with adapters_disabled(self.model):
            return self.model(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)


def reference_of(model: nn.Module) -> Any:
    """The frozen KL reference: `FrozenBase(model)` for a LoRA model, else a frozen deep copy."""
    if has_lora(model):
        return FrozenBase(model)
    import copy

    return copy.deepcopy(model).requires_grad_(False).eval()


def checkpoint_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """What a training checkpoint stores: the adapters only for a LoRA model (the base is rebuilt from the config),
    else the whole state dict."""
    state = model.state_dict()
    if has_lora(model):
        state = {k: v for k, v in state.items() if is_adapter_name(f".{k}")}
    return {k: v.detach().contiguous().clone() for k, v in state.items()}


def load_checkpoint_weights(model: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Load `checkpoint_weights` output back (adapters only into a LoRA model, checked to be complete)."""
    if not has_lora(model):
        model.load_state_dict(weights)
        return
    expected = {k for k in model.state_dict() if is_adapter_name(f".{k}")}
    if set(weights) != expected:
        raise ValueError(f"LoRA checkpoint does not match the model's adapters: missing "
                         f"{sorted(expected - set(weights))[:4]}, unexpected {sorted(set(weights) - expected)[:4]}")
    model.load_state_dict(weights, strict=False)
