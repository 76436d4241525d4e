"""Turn a `--policy` string into a Policy: ``engine:MODEL``, ``openai:MODEL@URL`` or ``scripted:FILE.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

from agentgym.api import Action
from agentgym.errors import PolicySpecError
from agentgym.rollout.policy import Policy
from agentgym.rollout.scripted import ScriptedPolicy

POLICY_FORMS = (
    "'engine:MODEL' (the embedded engine, e.g. engine:smollm2-135m), "
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
        return make_engine_policy(rest or "smollm2-135m")
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


def make_engine_policy(model: str) -> Policy:
    """The embedded engine with pretrained weights (`engine:smollm2-135m`, or `engine:PATH` of a local HF checkpoint
    folder) as a batching Policy."""
    from agentgym.model import Engine, EngineConfig, load_pretrained
    from agentgym.model.hf_folder import is_hf_folder
    from agentgym.model.pretrained import PRETRAINED
    from agentgym.rollout.engine_policy import EnginePolicy, EnginePolicyConfig

    if model not in PRETRAINED and not is_hf_folder(model):
        raise PolicySpecError(f"no pretrained weights for model {model!r}; known: {', '.join(sorted(PRETRAINED))}, "
                              f"or the path of a local HF checkpoint folder")
    net, tokenizer = load_pretrained(model)
    return EnginePolicy(Engine(net, tokenizer, EngineConfig(max_seq_len=2048)), EnginePolicyConfig())
