"""Tool calls in model text: render tool specs into prompts, parse calls out of completions, validate arguments.

One module per job: `formats` (the markers), `parse`, `render`, `validate`, `messages` (how both quote values) and
`script` (reference solutions played one call per turn).
"""

from agentgym.tools.formats import ToolFormat
from agentgym.tools.parse import ParsedToolCalls, parse_tool_calls
from agentgym.tools.render import render_tool_calls, render_tools_prompt
from agentgym.tools.script import ToolScript, last_tool_output, tool_call
from agentgym.tools.validate import validate_call

__all__ = [
    "ParsedToolCalls",
    "ToolFormat",
    "ToolScript",
    "last_tool_output",
    "parse_tool_calls",
    "render_tool_calls",
    "render_tools_prompt",
    "tool_call",
    "validate_call",
]
