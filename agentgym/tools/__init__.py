"""Tool calls in model text: render tool specs into prompts, parse calls out of completions, validate arguments.

One module per job: `formats` (the markers), `parse`, `render`, `validate`, and `messages` (how both quote values).
"""

from agentgym.tools.formats import ToolFormat
from agentgym.tools.parse import ParsedToolCalls, parse_tool_calls
from agentgym.tools.render import render_tool_calls, render_tools_prompt
from agentgym.tools.validate import validate_call

__all__ = [
    "ParsedToolCalls",
    "ToolFormat",
    "parse_tool_calls",
    "render_tool_calls",
    "render_tools_prompt",
    "validate_call",
]
