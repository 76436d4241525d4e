"""The DeepSeek-V3 chat format, rendered over any byte-level BPE vocabulary with its markers as added tokens.

Layout (DeepSeek-V3/V3.1 model cards, simplified where noted):

    <｜begin▁of▁sentence｜>{system}{tools section}<｜User｜>{user}<｜Assistant｜>{reply}<｜end▁of▁sentence｜>
    <｜tool▁output▁begin｜>{tool result}<｜tool▁output▁end｜><｜Assistant｜>{reply}<｜end▁of▁sentence｜>...

An assistant reply with tool calls ends in ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{json}
<｜tool▁call▁end｜><｜tool▁calls▁end｜>`` (the V3.1 call syntax, the one `agentgym.tools` parses). Reasoning is the
``<think>…</think>`` block a reply starts with; like DeepSeek's template, the reasoning of every assistant reply that
comes before the last user message is dropped from the history (V3.2 "thinking in tool use": kept across tool calls,
dropped when a new user message arrives). Simplification: every reply starts with ``<｜Assistant｜>``, also after a
tool output (V3.1 writes nothing there), so every turn is rendered the same way.
"""

from __future__ import annotations

import json

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
USER = "<｜User｜>"
ASSISTANT = "<｜Assistant｜>"
CALLS_BEGIN, CALLS_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
CALL_BEGIN, CALL_END, SEP = "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"
OUTPUT_BEGIN, OUTPUT_END = "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

SPECIAL_TOKENS = (BOS, EOS)
"""Control tokens: one id each, dropped by ``decode(skip_special_tokens=True)``."""
MARKER_TOKENS = (USER, ASSISTANT, CALLS_BEGIN, CALLS_END, CALL_BEGIN, CALL_END, SEP, OUTPUT_BEGIN, OUTPUT_END,
                 THINK_OPEN, THINK_CLOSE)
"""Structural tokens: one id each, kept in decoded text (the env parses tool calls and reasoning out of it)."""

TOOLS_TAIL = (
    "IMPORTANT: ALWAYS adhere to this exact format for tool use:\n"
    f"{CALLS_BEGIN}{CALL_BEGIN}tool_call_name{SEP}tool_call_arguments{CALL_END}{{additional_tool_calls}}{CALLS_END}\n\n"
    "Where:\n- `tool_call_name` must be an exact match to one of the available tools\n"
    "- `tool_call_arguments` must be valid JSON that strictly follows the tool's Parameters Schema\n"
    "- For multiple tool calls, chain them directly without separators or spaces"
)


def strip_reasoning(content: str) -> str:
    """The reply without its leading ``<think>…</think>`` block (unchanged when it has no closed block)."""
    if content.startswith(THINK_OPEN):
        end = content.find(THINK_CLOSE, len(THINK_OPEN))
        if end >= 0:
            return content[end + len(THINK_CLOSE):]
    return content


def tools_section(tools: list[dict]) -> str:
    """``## Tools`` with a ``### name`` section per OpenAI tool dict, then the call format."""
    sections = ""
    for tool in tools:
        fn = tool.get("function", tool)
        sections += (f"### {fn['name']}\nDescription: {fn.get('description', '')}\n\n"
                     f"Parameters: {json.dumps(fn.get('parameters', {}), ensure_ascii=False)}\n\n")
    return "## Tools\nYou have access to the following tools:\n\n" + sections + TOOLS_TAIL


def _tool_calls(message: dict) -> str:
    calls = ""
    for call in message.get("tool_calls") or []:
        fn = call.get("function", call)
        args = fn.get("arguments", {})
        args = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        calls += f"{CALL_BEGIN}{fn['name']}{SEP}{args}{CALL_END}"
    return f"{CALLS_BEGIN}{calls}{CALLS_END}" if calls else ""


def render_deepseek(messages: list[dict], tools: list[dict] | None = None, add_generation_prompt: bool = True) -> str:
    """DeepSeek-format text of a conversation (roles system/user/assistant/tool, as `Tokenizer.render_chat` takes).

    Example: ``[{"role": "user", "content": "hi"}]`` -> ``"<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜>"``.
    """
    system = "\n\n".join(m.get("content") or "" for m in messages if m["role"] == "system")
    if tools:
        system = f"{system}\n\n{tools_section(tools)}" if system else tools_section(tools)
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    parts = [BOS, system]
    for i, m in enumerate(messages):
        content = m.get("content") or ""
        if m["role"] == "user":
            parts.append(f"{USER}{content}")
        elif m["role"] == "tool":
            parts.append(f"{OUTPUT_BEGIN}{content}{OUTPUT_END}")
        elif m["role"] == "assistant":
            reply = strip_reasoning(content) if i < last_user else content
            parts.append(f"{ASSISTANT}{reply}{_tool_calls(m)}{EOS}")
    if add_generation_prompt:
        parts.append(ASSISTANT)
    return "".join(parts)
