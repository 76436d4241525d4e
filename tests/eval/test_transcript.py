"""`show`: the transcript shows every message, tool call, tool result, reasoning, turn reward and verdict reason."""

from __future__ import annotations

import pytest
from rich.console import Console

from agentgym.api import Message, ToolCall, Trajectory, Turn, Verdict
from agentgym.errors import TaskFileError
from agentgym.app.eval_cli import show_command
from agentgym.eval.transcript import render_trajectory
from agentgym.jsonio import write_jsonl_atomic


def sample() -> Trajectory:
    return Trajectory(
        task_id="arith-7", env="arith", seed=3,
        messages=[
            Message(role="system", content="You solve arithmetic problems."),
            Message(role="user", content="Compute 6 * 7."),
            Message(role="assistant", content="", reasoning="I should use the calculator.",
                    tool_calls=[ToolCall(id="c1", name="calculator", arguments={"expression": "6 * 7"})]),
            Message(role="tool", name="calculator", tool_call_id="c1", content="42"),
            Message(role="assistant", content="<tool_call>{oops</tool_call>"),
            Message(role="tool", name="error", content="error: tool call is not valid JSON"),
            Message(role="assistant", tool_calls=[ToolCall(id="c2", name="submit", arguments={"answer": 42})]),
            Message(role="tool", name="submit", tool_call_id="c2", content="submitted; reward 1"),
        ],
        turns=[Turn(), Turn(), Turn(reward=1.0)], reward=1.0, terminated=True, num_tool_errors=1,
        verdict=Verdict(reward=1.0, passed=True, reasons=["answer 42 == expected 42"], components={"accuracy": 1.0}),
    )


def text_of(trajectory: Trajectory) -> str:
    console = Console(record=True, width=100, color_system="truecolor")
    console.print(render_trajectory(trajectory, index=4))
    return console.export_text()


def test_transcript_shows_every_part():
    text = text_of(sample())
    for expected in ("episode #4", "task arith-7", "seed 3", "tool-call errors 1", "You solve arithmetic problems.",
                     "Compute 6 * 7.", "thinking: I should use the calculator.",
                     '→ call calculator {"expression": "6 * 7"}',
                     "tool: calculator", "42", "error: tool call is not valid JSON", "assistant · turn 3 · reward 1",
                     '→ call submit {"answer": 42}', "PASSED", "terminated", "• answer 42 == expected 42",
                     "accuracy = 1"):
        assert expected in text, expected
    assert text.index("turn 1") < text.index("turn 2") < text.index("turn 3")


def test_transcript_is_colored():
    console = Console(record=True, width=100, force_terminal=True, color_system="truecolor")
    console.print(render_trajectory(sample()))
    html = console.export_html(inline_styles=True)
    assert "color: #800000" in html or "color: #ff0000" in html  # the tool error is red


def test_failed_episode_shows_why():
    t = Trajectory(task_id="x", env="arith", truncated=True, truncation_reason="turn budget of 3 steps reached",
                   error="env_error", info={"failure": "env.reset: RuntimeError: sandbox failed"})
    text = text_of(t)
    assert "FAILED" in text and "truncated: turn budget of 3 steps reached" in text
    assert "env_error: env.reset: RuntimeError: sandbox failed" in text


def test_show_command_picks_the_index_and_rejects_bad_ones(tmp_path, capsys):
    path = tmp_path / "t.jsonl"
    other = sample().model_copy(update={"task_id": "arith-8"})
    write_jsonl_atomic(path, [sample().model_dump(mode="json"), other.model_dump(mode="json")])
    show_command(path, 1)
    assert "task arith-8" in capsys.readouterr().out
    show_command(path, -2)
    assert "episode #0  task arith-7" in capsys.readouterr().out
    with pytest.raises(TaskFileError, match=r"holds 2 episodes; --index must be in \[-2, 1\], got 2"):
        show_command(path, 2)
    with pytest.raises(TaskFileError, match="does not exist"):
        show_command(tmp_path / "nope.jsonl", 0)
