"""A trajectory as a readable, colored transcript (rich): messages, reasoning, tool calls, results, rewards, verdict."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from agentgym.api import Message, Trajectory

_ROLE_STYLES = {"system": "dim", "user": "bold cyan", "assistant": "bold magenta", "tool": "green"}


def _tool_call_text(message: Message) -> Text:
    text = Text()
    for call in message.tool_calls:
        arguments = call.arguments_json()
        text.append("→ call ", style="bold yellow").append(call.name, style="yellow").append(f" {arguments}\n")
    return text


def _message_panel(message: Message, title: str) -> Panel:
    body = Text()
    if message.reasoning:
        body.append("thinking: ", style="italic dim").append(message.reasoning + "\n", style="italic dim")
    if message.content:
        is_error = message.role == "tool" and message.content.startswith("error")
        body.append(message.content + "\n", style="red" if is_error else "")
    body.append_text(_tool_call_text(message))
    body.rstrip()
    style = _ROLE_STYLES.get(message.role, "")
    if message.role == "tool" and message.content.startswith("error"):
        style = "red"
    return Panel(body, title=title, title_align="left", border_style=style)


def render_trajectory(trajectory: Trajectory, *, index: int | None = None) -> RenderableType:
    """The whole episode: a header, one panel per message (assistant panels carry their turn's reward), the outcome."""
    t = trajectory
    where = f" #{index}" if index is not None else ""
    header = Text.from_markup(
        f"[bold]episode{where}[/]  task [bold]{escape(t.task_id)}[/]  env [bold]{escape(t.env)}[/]  seed {t.seed}  "
        f"turns {t.num_turns}  tool-call errors {t.num_tool_errors}"
    )
    parts: list[RenderableType] = [header]
    turn_index = 0
    for message in t.messages:
        title = message.role if message.role != "tool" else f"tool: {message.name or '?'}"
        if message.role == "assistant":
            reward = t.turns[turn_index].reward if turn_index < len(t.turns) else 0.0
            title = f"assistant · turn {turn_index + 1} · reward {reward:g}"
            turn_index += 1
        parts.append(_message_panel(message, escape(title)))
    parts.append(_outcome(t))
    return Group(*parts)


def _outcome(t: Trajectory) -> Text:
    passed = t.verdict is not None and t.verdict.passed
    text = Text()
    text.append("PASSED" if passed else "FAILED", style="bold green" if passed else "bold red")
    text.append(f"  reward {t.reward:g}")
    if t.terminated:
        text.append("  terminated")
    if t.truncated:
        text.append(f"\n  truncated: {t.truncation_reason}", style="yellow")
    if t.error:
        text.append(f"\n  {t.error}: {t.info.get('failure', '')}", style="bold red")
    if t.verdict is not None:
        for reason in t.verdict.reasons:
            text.append(f"\n  • {reason}")
        for name, value in t.verdict.components.items():
            text.append(f"\n  {name} = {value:g}", style="dim")
    return text
