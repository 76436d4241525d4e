"""Render tool specs into a system prompt and tool calls into assistant text, in the Hermes or DeepSeek format."""

from __future__ import annotations

import json
from collections.abc import Sequence

from agentgym.api import ToolCall, ToolSpec
from agentgym.tools.formats import (
    DS_CALL_BEGIN,
    DS_CALL_END,
    DS_CALLS_BEGIN,
    DS_CALLS_END,
    DS_SEP,
    HERMES_CLOSE,
    HERMES_OPEN,
    ToolFormat,
)
from agentgym.tools.parse import _decode_arguments

_HERMES_PROMPT_HEAD = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>"
)
_HERMES_PROMPT_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)
_DEEPSEEK_PROMPT_TAIL = (
    "IMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
    f"{DS_CALLS_BEGIN}{DS_CALL_BEGIN}tool_call_name{DS_SEP}tool_call_arguments{DS_CALL_END}"
    "{additional_tool_calls}" + f"{DS_CALLS_END}\n\n"
    "Where:\n- `tool_call_name` must be an exact match to one of the available tools\n"
    "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
    "- For multiple tool calls, chain them directly without separators or spaces"
)


def render_tools_prompt(tools: Sequence[ToolSpec], fmt: ToolFormat = "hermes") -> str:
    """The system-prompt section that lists `tools` and shows how to call them; "" when there are no tools.

    Hermes follows the Qwen2.5 chat template (`<tools>` with one OpenAI tool JSON per line, then the `<tool_call>`
    instructions); DeepSeek follows the DeepSeek-V3.1 model card (`## Tools`, a `### name` section per tool with its
    Description and compact JSON Parameters, then the tool-call format).
    """
    if not tools:
        return ""
    if fmt == "hermes":
        lines = "".join("\n" + json.dumps(t.to_openai(), ensure_ascii=False) for t in tools)
        return _HERMES_PROMPT_HEAD + lines + _HERMES_PROMPT_TAIL
    if fmt == "deepseek":
        sections = "".join(
            f"### {t.name}\nDescription: {t.description}\n\n"
            f"Parameters: {json.dumps(t.parameters, ensure_ascii=False)}\n\n"
            for t in tools
        )
        return "## Tools\nYou have access to the following tools:\n\n" + sections + _DEEPSEEK_PROMPT_TAIL
    raise ValueError(f"fmt must be 'hermes' or 'deepseek', got {fmt!r}")


def render_tool_calls(calls: Sequence[ToolCall], fmt: ToolFormat = "hermes") -> str:
    """The text with which an assistant turn makes `calls`; "" for no calls. Ids are not written (neither format has
    them). `parse_tool_calls(render_tool_calls(calls, fmt), fmt).calls` equals `calls`, ids aside.

    Hermes writes one `<tool_call>` block per call, joined by newlines. Arguments given as a string are written as
    the object they decode to, or else as a JSON string (so that they parse back as that same string). DeepSeek
    writes the V3.1 style, ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜>...
    <｜tool▁calls▁end｜>``, with arguments as given.
    """
    if not calls:
        return ""
    if fmt == "hermes":
        blocks = []
        for call in calls:
            arguments = _decode_arguments(call.arguments) if isinstance(call.arguments, str) else call.arguments
            payload = json.dumps({"name": call.name, "arguments": arguments}, ensure_ascii=False)
            blocks.append(f"{HERMES_OPEN}\n{payload}\n{HERMES_CLOSE}")
        return "\n".join(blocks)
    if fmt == "deepseek":
        body = "".join(f"{DS_CALL_BEGIN}{c.name}{DS_SEP}{c.arguments_json()}{DS_CALL_END}" for c in calls)
        return DS_CALLS_BEGIN + body + DS_CALLS_END
    raise ValueError(f"fmt must be 'hermes' or 'deepseek', got {fmt!r}")


