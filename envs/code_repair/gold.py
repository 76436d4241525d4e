"""The gold patch of a repair task as tool calls: exact-match edits on the episode's starting files (the reference
solution every `code_repair` check and demonstration replays)."""

from __future__ import annotations

import shlex
from typing import Any

from agentgym.api import Action, Task, ToolCall
from agentgym.envs.code_repair.edits import Edit, edits_between
from agentgym.envs.code_repair.patch import apply_patch, patched_paths
from agentgym.envs.code_repair.snapshot import materialize, read_text
from agentgym.envs.code_repair.taskdata import expand_path, parse_task_data
from agentgym.envs.code_repair.workspace import starting_files
from agentgym.tools import ToolScript, tool_call


def gold_edits(task: Task) -> list[Edit]:
    """The gold patch as exact-match edits on the episode's starting files (snapshot + bug patch)."""
    data = parse_task_data(task.data)
    snapshot = materialize(expand_path(data.repo))
    start = starting_files(snapshot, data)
    base = {p: (start[p] if p in start else read_text(snapshot, p)) for p in patched_paths(data.gold_patch)}
    fixed = apply_patch(base, data.gold_patch)
    edits: list[Edit] = []
    for path, after in fixed.items():
        before = base.get(path)
        if after is None:
            edits.append(Edit(path, "", ""))  # a deletion, turned into `bash rm` by gold_calls
        elif before is None:
            edits.append(Edit(path, "", after))
        else:
            edits.extend(edits_between(path, before, after))
    return edits


def gold_calls(task: Task) -> list[tuple[str, dict[str, Any]]]:
    """`gold_edits` as `edit_file` calls (and `bash rm` for a deleted file)."""
    out: list[tuple[str, dict[str, Any]]] = []
    for e in gold_edits(task):
        if e.old == "" and e.new == "":
            out.append(("bash", {"cmd": f"rm -f -- {shlex.quote(e.path)}"}))
        else:
            out.append(("edit_file", {"path": e.path, "old": e.old, "new": e.new}))
    return out


def gold_action(task: Task) -> Action:
    """Every gold call and then `submit`, in one action (the one-step oracle of `reference_action`)."""
    calls = [ToolCall(id=f"ref-{i}", name=name, arguments=args) for i, (name, args) in enumerate(gold_calls(task))]
    return Action(tool_calls=[*calls, ToolCall(id="ref-submit", name="submit", arguments={})])


def gold_script(task: Task) -> ToolScript:
    """The multi-turn reference: each gold call in its own turn, then `run_tests`, then `submit`."""
    calls = [ToolCall(name=name, arguments=args) for name, args in gold_calls(task)]
    return ToolScript([*calls, tool_call("run_tests"), tool_call("submit")])
