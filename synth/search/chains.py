"""Multi-hop chains through linked documents, read with the search env's tools.

Documents link through labelled header lines (``Module: json``, ``Class: Popen``, ``Bases: NodeVisitor``). A chain
starts at a long-tail entity, follows `hops` links, and ends with a terminal fact of the last document (its first
parameter, or the first name it lists). Every step is a `find` call, so `replay` re-derives the answer from the
corpus without looking at the recorded one: that is how the ground truth is verified.
"""

from __future__ import annotations

from agentgym.synth.search.session import ToolSession, first_parameter, list_value

# relation -> the kinds of document it leaves from
RELATIONS: dict[str, tuple[str, ...]] = {
    "module": ("function", "method", "class"),
    "class": ("method",),
    "base": ("class",),
    "first_function": ("module",),
    "first_class": ("module",),
    "first_method": ("class",),
}
_LIST_LABEL = {"first_function": "Functions", "first_class": "Classes", "first_method": "Methods"}
TERMINALS: dict[str, tuple[str, ...]] = {
    "first_parameter": ("function", "method", "class"),
    "first_method": ("class",),
    "first_function": ("module",),
    "first_class": ("module",),
}
_TERMINAL_LABEL = {"first_parameter": "Signature", "first_method": "Methods", "first_function": "Functions",
                   "first_class": "Classes"}


async def follow(session: ToolSession, doc_id: str, relation: str) -> str | None:
    """The document that `relation` leads to from `doc_id`, or None when the link is missing or dangling.

    ``module``/``class``/``base`` read the ``Module:``, ``Class:`` and first ``Bases:`` name (looked up in the same
    module, then in ``builtins``); ``first_function``/``first_class``/``first_method`` take the first name listed.
    """
    if relation not in RELATIONS:
        raise ValueError(f"unknown relation {relation!r}; expected one of {sorted(RELATIONS)}")
    if relation in _LIST_LABEL:
        names = list_value(await session.label(doc_id, _LIST_LABEL[relation]))
        targets = [f"{doc_id}.{names[0]}"] if names else []
    else:
        module = await session.label(doc_id, "Module")
        if relation == "module":
            targets = [module] if module else []
        elif relation == "class":
            name = await session.label(doc_id, "Class")
            targets = [f"{module}.{name}"] if module and name else []
        else:
            bases = list_value(await session.label(doc_id, "Bases"))
            targets = [f"{module}.{bases[0]}", f"builtins.{bases[0]}"] if module and bases else []
    for target in targets:
        if await session.exists(target):
            return target
    return None


async def terminal(session: ToolSession, doc_id: str, name: str) -> str | None:
    """The terminal fact `name` of `doc_id` (e.g. its first parameter), or None when the document has none."""
    value = await session.label(doc_id, _TERMINAL_LABEL[name])
    if name == "first_parameter":
        return first_parameter(value)
    names = list_value(value)
    return names[0] if names else None


async def replay(session: ToolSession, start: str, hops: list[str], final: str) -> tuple[list[str], str | None]:
    """Follow the chain from `start` again through the tools: (the documents visited, the answer or None)."""
    path = [start]
    for relation in hops:
        nxt = await follow(session, path[-1], relation)
        if nxt is None:
            return path, None
        path.append(nxt)
    return path, await terminal(session, path[-1], final)


async def kind_of(session: ToolSession, doc_id: str) -> str | None:
    return await session.label(doc_id, "Kind")

