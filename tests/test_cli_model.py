"""`agentgym model info` and `agentgym generate` through the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from agentgym.app.cli import app


def test_model_info_reproduces_deepseek_v3_671b():
    result = CliRunner().invoke(app, ["model", "info", "deepseek-v3"])
    assert result.exit_code == 0, result.output
    assert "671,026,404,352" in result.output and "37,552,282,624" in result.output


def test_model_info_unknown_name_is_one_clear_error():
    result = CliRunner().invoke(app, ["model", "info", "gpt-5"])
    assert result.exit_code == 2
    assert "unknown model 'gpt-5'; known: " in result.output and "smollm2-135m" in result.output


@pytest.mark.slow
def test_generate_streams_a_greedy_answer_from_smollm2():
    result = CliRunner().invoke(app, ["generate", "What is 2+3? Answer briefly.", "--max-new-tokens", "16",
                                      "--temperature", "0"])
    assert result.exit_code == 0, result.output
    assert "5" in result.output
