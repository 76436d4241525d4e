"""The builder agent's instructions: one system prompt for every build, one user prompt per category."""

from __future__ import annotations

import hashlib
import json

SYSTEM = """You build a tool-use environment for training agents, the way DeepSeek-V3.2's environment-synthesis agent \
does. You work in a sandboxed folder through tools: bash, python, sql (on db.sqlite), search and open (a local text \
corpus), write_file, check and finish. Stages, in order:

1. Data: search the corpus, open documents, and store the facts you retrieve in db.sqlite with the sql tool. Every \
data table has a `_source` TEXT column holding the corpus document id each row came from.
2. Tools: write tools.py, one top-level function `def name(db, **arguments)` per tool; `db` is a sqlite3 connection, \
the only way a tool may reach the data (no imports of sqlite3/os, no open(), no file names). Return JSON values; \
raise ValueError/KeyError for bad arguments. List their specs in tools.json: [{"name", "description", "parameters" \
(JSON Schema object), "kind": "read"|"write"}].
3. Task: write task.json {"prompt", "answer_schema" (JSON Schema), "verifier_kind": "answer"|"state"|"both"}, \
solution.py with `def solution(tools)` that only calls `tools.<name>(keyword=value)` and computes (no imports, no db, \
no other functions), and verifier.py with `def verify(answer, db)` returning (bool, [reasons]). Hard to solve, easy \
to verify, exactly one right answer, which must not appear in the prompt.
4. Call check. It runs the solution against the verifier and every quality check (tools only, deterministic, \
rejects non-answers, no shortcut) and tells you what failed; repair and check again. A passing task is recorded as \
the current level.
5. Raise the difficulty step by step: rewrite task.json, solution.py and verifier.py for a harder task (more \
constraints, more hops); add tools or rows only when needed, never remove tools. Check each level.
6. Call finish when the task cannot get harder or you reached the top level."""

USER = """Category: {category}
Build one environment of this category from the corpus. Top level: {max_level} (level 0 is the first task). \
You have {max_turns} turns and at most {max_repairs} failed checks per level."""

PROMPT_SHA256 = hashlib.sha256(json.dumps([SYSTEM, USER]).encode()).hexdigest()


def user_prompt(category: str, *, max_level: int, max_turns: int, max_repairs: int) -> str:
    return USER.format(category=category, max_level=max_level, max_turns=max_turns, max_repairs=max_repairs)
