"""The procedural question agent: builds a multi-hop question over a long-tail entity through the search tools.

Depth is the number of links followed before the terminal fact (``--min-hops``/``--max-hops``); breadth is the number
of entities that must all point to the first linked document ("the module that defines both `a` and `b`"). The
question describes the chain in words and never names a document on it past the start, so answering needs the hops.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from agentgym.synth.search.chains import RELATIONS, TERMINALS, follow, kind_of, terminal
from agentgym.synth.search.entities import Entity, check_entity
from agentgym.synth.search.session import ToolSession, list_value

_TERMINAL_TEXT = {
    "first_parameter": "What is the name of the first parameter in the signature of {d}? Answer with the parameter "
                       "name only.",
    "first_method": "Which method is listed first in the documentation of {d}? Answer with the method name only.",
    "first_function": "Which function is listed first in the documentation of {d}? Answer with the function name "
                      "only.",
    "first_class": "Which class is listed first in the documentation of {d}? Answer with the class name only.",
}
_HOP_TEXT = {"module": "the module that defines {d}", "class": "the class that {d} belongs to",
             "base": "the first base class of {d}",
             "first_function": "the function listed first in the documentation of {d}",
             "first_class": "the class listed first in the documentation of {d}",
             "first_method": "the method listed first in the documentation of {d}"}


@dataclass(frozen=True, kw_only=True, slots=True)
class QAPair:
    """A question with its ground truth and how it was built.

    Attributes:
        question / answer: the text asked and the short answer copied from the corpus.
        start: the entity document the chain starts at; clues: every entity named in the question (breadth).
        hops: the links followed, in order; final: the terminal fact; evidence: the documents on the chain.
        source: "procedural" or "llm:<model>"; num_llm_tokens: what an LLM question agent spent.
    """

    question: str
    answer: str
    start: str
    clues: list[str] = field(default_factory=list)
    hops: list[str] = field(default_factory=list)
    final: str = ""
    evidence: list[str] = field(default_factory=list)
    source: str = "procedural"
    num_llm_tokens: int = 0


async def build_question(session: ToolSession, entity: Entity, rng: random.Random, *, min_hops: int, max_hops: int,
                         breadth: int, max_mentions: int) -> QAPair | None:
    """A chain of `min_hops`..`max_hops` links from `entity`, with up to `breadth` clue entities; None if the walk
    cannot reach that depth or the last document has no terminal fact."""
    num_hops = rng.randint(min_hops, max_hops)
    path, kinds, hops = [entity.doc_id], [entity.kind], []
    while len(hops) < num_hops:
        options = [r for r, sources in RELATIONS.items() if kinds[-1] in sources]
        rng.shuffle(options)
        for relation in options:
            nxt = await follow(session, path[-1], relation)
            if nxt is not None and nxt not in path:
                path.append(nxt)
                kinds.append(await kind_of(session, nxt) or "")
                hops.append(relation)
                break
        else:
            return None
    finals = [t for t, kinds_ok in TERMINALS.items() if kinds[-1] in kinds_ok]
    rng.shuffle(finals)
    for final in finals:
        answer = await terminal(session, path[-1], final)
        if answer and answer.lower() not in entity.name.lower():
            clues = [entity.doc_id]
            if breadth > 1 and hops and hops[0] == "module":
                clues += await _more_clues(session, path[1], entity, breadth - 1, rng, max_mentions)
            question = describe(clues, [await kind_of(session, c) or "" for c in clues], hops, final)
            if answer.lower() in question.lower():
                continue
            return QAPair(question=question, answer=answer, start=entity.doc_id, clues=clues, hops=hops,
                          final=final, evidence=path)
    return None


def describe(clues: list[str], clue_kinds: list[str], hops: list[str], final: str) -> str:
    """The question text: the start (one entity, or several that share the first link), each hop, the terminal."""
    named = [f"the {k} `{c.rpartition('.')[2]}`" for c, k in zip(clues, clue_kinds, strict=True)]
    text = named[0] if len(named) == 1 else "both " + " and ".join(named) if len(named) == 2 else (
        ", ".join(named[:-1]) + " and " + named[-1])
    for i, relation in enumerate(hops):
        if i == 0 and len(named) > 1:
            text = f"the module that defines {text}"
        else:
            text = _HOP_TEXT[relation].format(d=text)
    return _TERMINAL_TEXT[final].format(d=text)


async def _more_clues(session: ToolSession, module: str, entity: Entity, count: int, rng: random.Random,
                      max_mentions: int) -> list[str]:
    """Other long-tail members of `module` (from its Functions/Classes lines) that also identify it."""
    names = list_value(await session.label(module, "Functions")) + list_value(await session.label(module, "Classes"))
    rng.shuffle(names)
    found: list[str] = []
    for name in names[:4 * count]:
        doc_id = f"{module}.{name}"
        if doc_id == entity.doc_id:
            continue
        other = await check_entity(session, doc_id, max_mentions=max_mentions)
        if other is not None and await session.label(doc_id, "Module") == module:
            found.append(doc_id)
            if len(found) == count:
                break
    return found
