"""`LLMGenerator`: a chat policy (OpenAI-compatible endpoint, or the embedded engine) writes the pieces as JSON.

Each step sends one system + user message and expects a single JSON object back (a ```json fence is fine). Whatever
the model writes (SQL, tools, solution, verifier) only ever runs inside the pipeline's sandbox, and goes through
exactly the same consistency loop and checks as the procedural generators' output.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from agentgym.synth.general.drafts import EnvDraft, TaskDraft
from agentgym.synth.schemas import ToolRecord

from agentgym.api import Message
from agentgym.rollout.policy import Policy

SYSTEM = (
    "You build tool-use environments for training agents, like DeepSeek-V3.2's environment synthesis agent. Reply "
    "with ONE JSON object and nothing else. Conventions: the DB is SQLite; each tool is a top-level Python function "
    "`def name(db, **arguments)` taking a sqlite3 connection and returning JSON values, raising ValueError/KeyError "
    "for bad arguments; a solution is `def solution(tools)` that only calls `tools.<name>(keyword=value)` and "
    "computes (no imports, no db); a verifier is `def verify(answer, db)` returning (bool, [reasons]). Tasks must be "
    "hard to solve and easy to verify, with one right answer."
)
STEPS = {
    "environment": "STEP: environment. Category: {category}. Write realistic data and 2-4 read tools. Return "
                   '{{"sql": [statements], "tools_source": "python source", "tools": [{{"name", "description", '
                   '"parameters" (JSON Schema object), "kind": "read"|"write"}}]}}.',
    "task": "STEP: task. Environment:\n{env}\nPropose a simple task that needs the tools. Return {{\"prompt\", "
            '"answer_schema" (JSON Schema object), "solution", "verifier", "verifier_kind": "answer"|"state"|"both"}}.',
    "repair": "STEP: repair. Environment:\n{env}\nTask:\n{task}\nThe solution's answer failed the verifier: "
              "{feedback}\nFix the solution or the verifier. Return the task object again.",
    "escalate": "STEP: escalate. Environment:\n{env}\nCurrent task (level {level}):\n{task}\nMake it harder: more "
                "constraints, more hops, or more tools. Add tools only if needed. Return {{\"task\": task object, "
                '"new_tools": [tool specs], "new_tools_source": "python source"}}, or {{"done": true}} when it '
                "cannot get harder.",
}
PROMPT_SHA256 = hashlib.sha256(json.dumps([SYSTEM, STEPS], sort_keys=True).encode()).hexdigest()
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


class GeneratorReplyError(ValueError):
    """The model's reply was not the JSON object asked for (the pipeline rejects the unit with this message)."""


def parse_reply(text: str) -> dict[str, Any]:
    """The JSON object in a reply: the whole text, a ```json fence, or the outermost {...}."""
    candidates = [text.strip(), *(m.strip() for m in _FENCE.findall(text))]
    if "{" in text:
        candidates.append(text[text.index("{") : text.rindex("}") + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise GeneratorReplyError(f"expected one JSON object, got: {text[:200]!r}")


class LLMGenerator:
    """Asks a chat policy for each piece of the DeepSeek-V3.2 loop.

    Args:
        policy: any `agentgym.rollout.Policy` (e.g. `OpenAIPolicy`, or the embedded engine's policy).
        categories: the categories to offer (free text; the model is told the category).
        model: recorded in provenance.
    """

    name = "llm"

    def __init__(self, policy: Policy, *, categories: Sequence[str], model: str | None = None) -> None:
        if not categories:
            raise ValueError("categories must not be empty")
        self.policy = policy
        self._categories = list(categories)
        self.model = model
        self.num_tokens = 0

    def categories(self) -> list[str]:
        return list(self._categories)

    async def _ask(self, step: str, **fields: Any) -> dict[str, Any]:
        messages = [Message(role="system", content=SYSTEM), Message(role="user", content=STEPS[step].format(**fields))]
        decision = await self.policy.act(messages, [])
        self.num_tokens += decision.num_prompt_tokens + decision.num_completion_tokens
        return parse_reply(decision.action.text)

    @staticmethod
    def _describe(env: EnvDraft) -> str:
        schema = [s for s in env.sql if s.lstrip().upper().startswith("CREATE")]
        return json.dumps({"schema": schema, "tools": [t.model_dump() for t in env.tools]}, indent=1)

    @staticmethod
    def _task(reply: dict[str, Any], level: int) -> TaskDraft:
        fields = {k: reply[k] for k in ("prompt", "answer_schema", "solution", "verifier") if k in reply}
        try:
            return TaskDraft(**fields, verifier_kind=reply.get("verifier_kind", "answer"), level=level,
                             knobs=reply.get("knobs", {}))
        except (TypeError, ValueError) as e:
            raise GeneratorReplyError(f"not a task object: {e}") from None

    async def propose_environment(self, category: str, seed: int) -> EnvDraft:
        reply = await self._ask("environment", category=category)
        try:
            return EnvDraft(category=category, sql=reply["sql"], tools_source=reply["tools_source"],
                            tools=[ToolRecord.model_validate(t) for t in reply["tools"]], world={"seed": seed})
        except (KeyError, TypeError, ValueError) as e:
            raise GeneratorReplyError(f"not an environment object: {e}") from None

    async def propose_task(self, env: EnvDraft, seed: int) -> TaskDraft:
        return self._task(await self._ask("task", env=self._describe(env)), 0)

    async def repair(self, env: EnvDraft, task: TaskDraft, feedback: str, seed: int) -> TaskDraft | None:
        reply = await self._ask("repair", env=self._describe(env), task=task.model_dump_json(), feedback=feedback)
        return self._task(reply, task.level)

    async def escalate(self, env: EnvDraft, task: TaskDraft, seed: int) -> tuple[EnvDraft, TaskDraft] | None:
        reply = await self._ask("escalate", env=self._describe(env), task=task.model_dump_json(), level=task.level)
        if reply.get("done"):
            return None
        new_tools = [ToolRecord.model_validate(t) for t in reply.get("new_tools", [])]
        source = env.tools_source
        if reply.get("new_tools_source"):
            source = source.rstrip() + "\n\n\n" + reply["new_tools_source"].strip() + "\n"
        grown = env.model_copy(update={"tools": [*env.tools, *new_tools], "tools_source": source})
        return grown, self._task(reply.get("task", {}), task.level + 1)
