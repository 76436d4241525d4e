"""Starter search-QA tasks generated from an index, each answer verified by construction.

Families (``hops`` = lookups needed):

- ``defining_module`` (1): "Which standard-library module defines the function `X`?" (X's name is unique in the
  corpus; the answer is the ``Module:`` line of X's document).
- ``first_parameter`` (1): "What is the first parameter of `M.X`?" (from the ``Signature:`` line).
- ``module_first_function`` (2): "`X` is defined in some module; which function of that module comes first
  alphabetically?" (X → its module M → the ``Functions:`` line of M's document).
- ``phrase_title`` (1, any corpus): "Which document contains the exact phrase "..."?" (the phrase occurs in exactly
  one document).

Every task is kept only if the search the oracle policy runs finds the evidence document in its top `VERIFY_K` hits,
and its answer is copied from the indexed text. Task i depends only on (corpus, seed, i).
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from agentgym.api import Task
from agentgym.envs.search.index import LocalIndex
from agentgym.envs.search.reward import normalize_answer

DATASET_NAME = "search"
VERIFY_K = 5
MAX_ATTEMPTS = 64
PHRASE_WORDS = (6, 10)
_PLAIN_PHRASE = re.compile(r"^[A-Za-z0-9 ,;:()'.-]+$")

PROMPTS = {
    "defining_module": ("Which Python standard-library module defines the function `{name}`? "
                        "Answer with the module's full dotted name only."),
    "first_parameter": ("In the Python standard library, what is the name of the first parameter of the function "
                        "`{qualified}`? Answer with the parameter name only."),
    "module_first_function": ("The function `{name}` is defined in a Python standard-library module. Which function "
                              "defined in that same module comes first in alphabetical order? Answer with the bare "
                              "function name only."),
    "phrase_title": ("Which document in the corpus contains the exact phrase \"{phrase}\"? "
                     "Answer with the document's title only."),
}
HOPS = {"defining_module": 1, "first_parameter": 1, "module_first_function": 2, "phrase_title": 1}


def first_parameter(signature: str | None) -> str | None:
    """The first named parameter in a signature such as ``"(obj, *, skipkeys=False)"`` → ``"obj"``.

    None when there is none, or it is ``self``/``cls``, or it is variadic (``*args``, ``**kw``).
    """
    if not signature or not signature.startswith("("):
        return None
    first = re.split(r"[,)]", signature[1:], maxsplit=1)[0]
    name = first.split(":")[0].split("=")[0].strip()
    if not name.isidentifier() or name in ("self", "cls"):
        return None
    return name


@dataclass(frozen=True, slots=True)
class _Pools:
    """Candidate documents per family, in document order."""

    unique_functions: list[int]
    with_first_parameter: list[int]
    module_first_function: list[int]
    titled: list[int]
    corpus_lower: str
    title_counts: Counter


@functools.lru_cache(maxsize=4)
def candidate_pools(index: LocalIndex) -> _Pools:
    """Which documents can seed each family (computed once per loaded index)."""
    docs = index.documents
    api_kinds = ("function", "class", "method")
    name_counts = Counter(d.meta.get("name") for d in docs if d.kind in api_kinds)
    modules = {d.id: d for d in docs if d.kind == "module"}
    unique_functions, with_param, first_function = [], [], []
    for i, d in enumerate(docs):
        if d.kind != "function":
            continue
        name = d.meta.get("name", "")
        if name_counts[name] == 1 and len(name) >= 4:
            unique_functions.append(i)
            module = modules.get(d.meta.get("module"))
            functions = module.meta.get("functions", []) if module else []
            if functions and functions[0] == min(functions, key=str.lower) and functions[0] != name:
                first_function.append(i)
        if first_parameter(d.meta.get("signature")) is not None:
            with_param.append(i)
    title_counts = Counter(normalize_answer(d.title) for d in docs)
    titled = [i for i, d in enumerate(docs) if title_counts[normalize_answer(d.title)] == 1 and normalize_answer(d.title)]
    corpus_lower = "\x00".join(d.text.lower() for d in docs)
    return _Pools(unique_functions, with_param, first_function, titled, corpus_lower, title_counts)


def families(index: LocalIndex) -> list[str]:
    """The families this corpus supports, in a fixed order (python-docs: all four; a folder: ``phrase_title``)."""
    pools = candidate_pools(index)
    available = {
        "defining_module": pools.unique_functions,
        "first_parameter": pools.with_first_parameter,
        "module_first_function": pools.module_first_function,
        "phrase_title": pools.titled,
    }
    return [name for name, pool in available.items() if pool]


def generate_task(index: LocalIndex, seed: int, number: int) -> Task:
    """Task `number` of the stream `seed` over this index.

    Raises:
        ValueError: no family yields a verified task on this corpus within `MAX_ATTEMPTS` draws each.
    """
    rng = random.Random(_seed_of(f"{DATASET_NAME}-{seed}-{number}"))
    names = families(index)
    if not names:
        raise ValueError(f"index {index.path} supports no task family (no document has a unique title)")
    first = rng.choice(names)
    for family in [first] + [name for name in names if name != first]:  # the drawn family, else the others
        made = next((m for m in (_MAKERS[family](index, rng) for _ in range(MAX_ATTEMPTS)) if m is not None), None)
        if made is not None:
            params, answers, evidence = made
            return Task(
                id=f"{DATASET_NAME}-{seed}-{number}",
                env=DATASET_NAME,
                prompt=PROMPTS[family].format(**params),
                data={"answer": answers[0], "answers": answers, "family": family, "params": params,
                      "evidence": evidence},
                meta={"generator": DATASET_NAME, "seed": seed, "index": number, "family": family,
                      "hops": HOPS[family], "corpus": index.manifest["source"], "corpus_hash": index.corpus_hash},
            )
    raise ValueError(f"no verified task after {MAX_ATTEMPTS} draws per family (seed {seed}, number {number})")


def _seed_of(key: str) -> int:
    """A well-mixed integer seed: string seeds that share a long prefix give correlated first draws."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def generate_tasks(index: LocalIndex, n: int, *, seed: int = 0) -> list[Task]:
    """`n` tasks; the same index, `n` and `seed` always give the same tasks."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return [generate_task(index, seed, i) for i in range(n)]


Made = tuple[dict[str, str], list[str], list[str]] | None


def _is_found(index: LocalIndex, query: str, doc_id: str) -> bool:
    return any(hit.id == doc_id for hit in index.search(query, VERIFY_K))


def _defining_module(index: LocalIndex, rng: random.Random) -> Made:
    doc = index.documents[rng.choice(candidate_pools(index).unique_functions)]
    name, module = doc.meta["name"], doc.meta["module"]
    if f"\nModule: {module}\n" not in doc.text or not _is_found(index, name, doc.id):
        return None
    return {"name": name}, [module], [doc.id]


def _first_parameter(index: LocalIndex, rng: random.Random) -> Made:
    doc = index.documents[rng.choice(candidate_pools(index).with_first_parameter)]
    answer = first_parameter(doc.meta["signature"])
    line = f"Signature: {doc.meta['name']}{doc.meta['signature']}"
    if answer is None or line not in doc.text or not _is_found(index, doc.id, doc.id):
        return None
    return {"qualified": doc.id}, [answer], [doc.id]


def _module_first_function(index: LocalIndex, rng: random.Random) -> Made:
    doc = index.documents[rng.choice(candidate_pools(index).module_first_function)]
    name, module_id = doc.meta["name"], doc.meta["module"]
    module = index.get(module_id)
    first = module.meta["functions"][0]
    if not module.text.split("\n")[2].startswith(f"Functions: {first}") or not _is_found(index, name, doc.id):
        return None
    return {"name": name}, [first, f"{module_id}.{first}"], [doc.id, module_id]


def _phrase_title(index: LocalIndex, rng: random.Random) -> Made:
    pools = candidate_pools(index)
    doc = index.documents[rng.choice(pools.titled)]
    lines = [line for line in doc.text.splitlines() if len(line.split()) >= PHRASE_WORDS[0]]
    if not lines:
        return None
    line = rng.choice(lines)
    words = list(re.finditer(r"\S+", line))
    size = rng.randint(PHRASE_WORDS[0], min(PHRASE_WORDS[1], len(words)))
    start = rng.randint(0, len(words) - size)
    phrase = line[words[start].start():words[start + size - 1].end()]
    if not _PLAIN_PHRASE.match(phrase) or pools.corpus_lower.count(phrase.lower()) != 1:
        return None
    if not _is_found(index, phrase, doc.id):
        return None
    return {"phrase": phrase}, [doc.title], [doc.id]


_MAKERS: dict[str, Callable[[LocalIndex, random.Random], Any]] = {
    "defining_module": _defining_module,
    "first_parameter": _first_parameter,
    "module_first_function": _module_first_function,
    "phrase_title": _phrase_title,
}
