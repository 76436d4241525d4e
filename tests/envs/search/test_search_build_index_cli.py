"""`build_index_command`, the function behind `agentgym search build-index`."""

from __future__ import annotations

import pytest

from agentgym.app.search_cli import BuildIndexError, build_index_command
from agentgym.errors import AgentGymError

from search_fixtures import write_small_corpus


def test_build_index_command_builds_and_summarizes(tmp_path, capsys):
    info = build_index_command(str(write_small_corpus(tmp_path / "src")), tmp_path / "idx", progress=False)
    assert info.num_documents == 5 and (tmp_path / "idx" / "manifest.json").exists()
    assert "5 documents" in capsys.readouterr().out


def test_user_mistakes_are_agentgym_errors(tmp_path):
    with pytest.raises(BuildIndexError, match="not a folder") as caught:
        build_index_command(str(tmp_path / "missing"), tmp_path / "idx", progress=False)
    assert isinstance(caught.value, AgentGymError)
    with pytest.raises(BuildIndexError, match="passage_chars"):
        build_index_command(str(tmp_path), tmp_path / "idx", passage_chars=1, progress=False)
