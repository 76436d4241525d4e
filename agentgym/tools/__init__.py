"""Tool calls in model text: render tool specs into prompts, parse calls out of completions, validate arguments.

One module per job: `formats` (the markers), `parse`, `render`, `validate`.
"""

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
from agentgym.tools.parse import ParsedToolCalls, parse_tool_calls
from agentgym.tools.render import render_tool_calls, render_tools_prompt
from agentgym.tools.validate import validate_call

__all__ = [
    "DS_CALLS_BEGIN",
    "DS_CALLS_END",
    "DS_CALL_BEGIN",
    "DS_CALL_END",
    "DS_SEP",
    "HERMES_CLOSE",
    "HERMES_OPEN",
    "ParsedToolCalls",
    "ToolFormat",
    "parse_tool_calls",
    "render_tool_calls",
    "render_tools_prompt",
    "validate_call",
]
