"""A `--policy` string as a Policy: ``engine:MODEL[:KEY=VALUE,...]``, ``openai:MODEL@URL``, ``scripted:FILE``."""

from __future__ import annotations

import json
from pathlib import Path

from agentgym.api import Action
from agentgym.errors import PolicySpecError
from agentgym.rollout.policy import Policy
from agentgym.rollout.scripted import ScriptedPolicy

ENGINE_OPTIONS = {"max_new_tokens": int, "temperature": float, "top_p": float, "top_k": int, "max_batch": int,
                  "max_seq_len": int}
"""The `engine:MODEL:KEY=VALUE,...` options: `EnginePolicyConfig` fields, and the engine's `max_seq_len`."""

POLICY_FORMS = (
    "'engine:MODEL[:KEY=VALUE,...]' (the embedded engine, e.g. engine:smollm2-135m or "
    "engine:smollm2-135m:max_new_tokens=128,temperature=0; keys: " + ", ".join(ENGINE_OPTIONS) + "), "
    "'openai:MODEL@URL' (any OpenAI-compatible endpoint, e.g. openai:my-model@http://127.0.0.1:8000/v1) or "
    "'scripted:FILE' (a JSONL file of actions replayed each episode, e.g. {\"text\": \"...\"})"
)


def make_policy(spec: str) -> Policy:
    """Build the policy named by `spec`; a bad spec raises `PolicySpecError` listing the accepted forms."""
    kind, _, rest = spec.partition(":")
    if kind == "openai":
        from agentgym.rollout.openai_policy import OpenAIPolicy

        return OpenAIPolicy.from_spec(spec)
    if kind == "engine":
        model, _, options = rest.partition(":")
        return make_engine_policy(model or "smollm2-135m", **engine_options(options, spec))
    if kind == "scripted" and rest:
        path = Path(rest)
        if not path.is_file():
            raise PolicySpecError(f"scripted policy file {rest!r} does not exist")
        actions = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    actions.append(Action.model_validate(json.loads(line)))
                except ValueError as e:
                    raise PolicySpecError(f"{rest}:{i}: not an action ({str(e).splitlines()[0]})") from None
        return ScriptedPolicy(actions)
    raise PolicySpecError(f"unknown policy {spec!r}; expected {POLICY_FORMS}")


def engine_options(text: str, spec: str) -> dict[str, int | float]:
    """``"max_new_tokens=128,temperature=0"`` → ``{"max_new_tokens": 128, "temperature": 0.0}``."""
    out: dict[str, int | float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in ENGINE_OPTIONS:
            raise PolicySpecError(f"policy {spec!r}: bad engine option {item!r}; expected KEY=VALUE with KEY one of "
                                  f"{', '.join(ENGINE_OPTIONS)}")
        try:
            out[key.strip()] = ENGINE_OPTIONS[key.strip()](value.strip())
        except ValueError:
            raise PolicySpecError(f"policy {spec!r}: {key.strip()} must be a number, got {value.strip()!r}") from None
    return out


def make_engine_policy(model: str, *, max_seq_len: int = 2048, **options: int | float) -> Policy:
    """The embedded engine with pretrained weights (`engine:smollm2-135m`, or `engine:PATH` of a local HF checkpoint
    folder) as a batching Policy; `options` are `EnginePolicyConfig` fields (max_new_tokens, temperature, top_p,
    top_k, max_batch)."""
    from agentgym.model import Engine, EngineConfig, load_pretrained
    from agentgym.model.hf_folder import is_hf_folder
    from agentgym.model.pretrained import PRETRAINED
    from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig

    if model not in PRETRAINED and not is_hf_folder(model):
        raise PolicySpecError(f"no pretrained weights for model {model!r}; known: {', '.join(sorted(PRETRAINED))}, "
                              f"or the path of a local HF checkpoint folder")
    try:  # settings first: a bad value fails before the weights load
        config = EnginePolicyConfig(**options)  # type: ignore[arg-type]
        engine_config = EngineConfig(max_seq_len=max_seq_len, max_batch_size=max(16, config.max_batch))
    except ValueError as e:
        raise PolicySpecError(f"engine:{model}: {e}") from None
    net, tokenizer = load_pretrained(model)
    return EnginePolicy(Engine(net, tokenizer, engine_config), config)
