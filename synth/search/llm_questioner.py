"""The LLM question agent: any chat `Policy` explores an entity with the search tools and proposes a QA pair.

It sees the env's tools plus one more, `propose_qa(question, answer, evidence)`; the loop runs its tool calls on the
env and stops at the first proposal. The pair is then verified against the corpus like any other.
"""

from __future__ import annotations

from agentgym.synth.search.entities import Entity
from agentgym.synth.search.questions import QAPair
from agentgym.synth.search.session import ToolSession

from agentgym.api import Message, ToolSpec
from agentgym.rollout import Policy

PROPOSE = ToolSpec(
    name="propose_qa",
    description="Propose the finished question with its short answer and the ids of the documents that prove it.",
    parameters={"type": "object", "properties": {
        "question": {"type": "string"}, "answer": {"type": "string"},
        "evidence": {"type": "array", "items": {"type": "string"}}},
        "required": ["question", "answer", "evidence"]},
)
SYSTEM = ("You write hard research questions about a document collection. Explore with the tools, follow links "
          "between documents, then call propose_qa once. The answer must be a short string copied from a document; "
          "answering must need {hops} linked lookups; never put the answer or the intermediate documents' names in "
          "the question.")


async def propose_with_policy(session: ToolSession, policy: Policy, entity: Entity, *, hops: int,
                              max_turns: int = 16, model: str = "llm") -> QAPair | None:
    """Run the question agent on `entity`; the QA pair it proposes, or None when it never proposes a valid one."""
    tools = session.env.tools()
    messages = [Message(role="system", content=SYSTEM.format(hops=hops)),
                Message(role="user", content=f"Start from the document {entity.doc_id!r} (the {entity.kind} "
                                             f"`{entity.name}`).")]
    num_tokens = 0
    for _ in range(max_turns):
        step = await policy.act(messages, [*tools, PROPOSE])
        num_tokens += step.num_prompt_tokens + step.num_completion_tokens
        action = step.action
        messages.append(Message(role="assistant", content=action.text, tool_calls=action.tool_calls))
        if not action.tool_calls:
            messages.append(Message(role="user", content="Call a tool, or propose_qa when you are done."))
        for call in action.tool_calls:
            args = call.arguments if isinstance(call.arguments, dict) else {}
            if call.name == PROPOSE.name:
                return _pair(args, entity, model, num_tokens)
            output = await session.call(call.name, **args)
            messages.append(Message(role="tool", name=call.name, tool_call_id=call.id or None, content=output))
    return None


def _pair(args: dict, entity: Entity, model: str, num_tokens: int) -> QAPair | None:
    question, answer = str(args.get("question", "")).strip(), str(args.get("answer", "")).strip()
    evidence = [str(e) for e in args.get("evidence", []) if isinstance(e, str)]
    if not question or not answer or not evidence:
        return None
    return QAPair(question=question, answer=answer, start=entity.doc_id, clues=[entity.doc_id], evidence=evidence,
                  source=f"llm:{model}", num_llm_tokens=num_tokens)
