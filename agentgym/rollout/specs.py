"""Turn a `--policy` string into a Policy: ``openai:MODEL@URL`` or ``scripted:FILE.jsonl`` (one action per line)."""

from __future__ import annotations

import json
from pathlib import Path

from agentgym.api import Action
from agentgym.errors import PolicySpecError
from agentgym.rollout.policy import Policy
from agentgym.rollout.scripted import ScriptedPolicy

POLICY_FORMS = (
    "'openai:MODEL@URL' (any OpenAI-compatible endpoint, e.g. openai:my-model@http://127.0.0.1:8000/v1) or "
    "'scripted:FILE' (a JSONL file of actions replayed each episode, e.g. {\"text\": \"...\"})"
)


def make_policy(spec: str) -> Policy:
    """Build the policy named by `spec`; a bad spec raises `PolicySpecError` listing the accepted forms."""
    kind, _, rest = spec.partition(":")
    if kind == "openai":
        from agentgym.rollout.openai_policy import OpenAIPolicy

        return OpenAIPolicy.from_spec(spec)
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
