"""Tool arguments arrive as JSON text from OpenAI-style servers; ToolEnv must decode them, never raise."""

from __future__ import annotations

import asyncio

import pytest

import agentgym
from agentgym.api import Action, ToolCall


@pytest.mark.parametrize("raw, content, error", [
    ('{"expression": "1+1"}', "2", None),
    ("", "error: tool 'calculator': missing required argument 'expression' (string)", "model_error"),
    ('["1+1"]', None, "model_error"),
    ('{"expression": 5}', "error: tool 'calculator': argument 'expression' must be string, got integer 5",
     "model_error"),
])
def test_string_arguments_are_decoded_or_explained(raw, content, error):
    env = agentgym.make("arith")
    asyncio.run(env.reset(env.sample_tasks(1)[0], seed=0))
    result = asyncio.run(env.step(Action(tool_calls=[ToolCall(id="c", name="calculator", arguments=raw)])))
    assert result.error == error
    if content is not None:
        assert result.observation.messages[0].content == content
    else:
        assert result.observation.messages[0].content.startswith("error: tool 'calculator'")
