"""`SearchEnv`: tools through `step`, agent mistakes as model errors, the verdict, the contract checker."""

from __future__ import annotations

import pytest

from agentgym.api import Action, Task, ToolCall
from agentgym.checker import check_env
from agentgym.envs.search import SearchEnv, SearchEnvConfig
from agentgym.envs.search.builder import build_index

from search_fixtures import cache_root, python_docs_index, write_small_corpus

TASK = Task(id="t", env="search", prompt="Which module defines dumps?", data={"answers": ["json"]})


def call(name: str, **arguments) -> Action:
    return Action(tool_calls=[ToolCall(id="c", name=name, arguments=arguments)])


@pytest.fixture
async def env():
    env = SearchEnv(index_dir=str(python_docs_index()), page_chars=500)
    await env.reset(TASK, seed=0)
    yield env
    await env.close()


async def test_search_open_find_submit_through_step(env):
    found = await env.step(call("search", query="json dumps", k=3))
    assert found.error is None and '"json.dumps"' in found.observation.text
    page = await env.step(call("open", doc_id="json.dumps"))
    assert "page 1 of" in page.observation.text and "offset=500" in page.observation.text
    page2 = await env.step(call("open", doc_id="json.dumps", offset=500))
    assert "page 2 of" in page2.observation.text
    lines = await env.step(call("find", doc_id="json.dumps", pattern="^Module: (\\w+)$", regex=True))
    assert "line 3: Module: json" in lines.observation.text
    done = await env.step(call("submit", answer="The json module"))
    assert done.terminated and done.reward == 0.0  # "json module" is not an exact match for "json"
    assert done.verdict is not None and done.verdict.components["f1"] == pytest.approx(2 / 3)


async def test_right_answer_ends_the_episode_with_reward_one(env):
    result = await env.step(call("submit", answer=" `JSON` "))
    assert result.terminated and result.reward == 1.0 and result.verdict.passed


@pytest.mark.parametrize(("action", "message"), [
    (call("search", query="   "), "query is empty"),
    (call("search", query="json", k=0), "k must be between 1 and 20"),
    (call("search", query="json", k=21), "k must be between 1 and 20"),
    (call("open", doc_id="json.dumpz"), "no document with id 'json.dumpz' (did you mean 'json.dump"),
    (call("open", doc_id=""), "doc_id is empty"),
    (call("open", doc_id="json.dumps", offset=10**9), "outside document"),
    (call("find", doc_id="json.dumps", pattern="(", regex=True), "invalid regular expression"),
    (call("find", doc_id="no/such", pattern="x"), "no document with id 'no/such'"),
])
async def test_agent_mistakes_become_model_errors(env, action, message):
    result = await env.step(action)
    assert result.error == "model_error" and not result.terminated
    assert message in result.observation.text


async def test_search_without_matches_says_so(env):
    result = await env.step(call("search", query="qwertyuiopzxcv"))
    assert result.error is None and "no results" in result.observation.text


def test_config_is_validated_and_named():
    with pytest.raises(ValueError, match="page_chars"):
        SearchEnvConfig(page_chars=0)
    with pytest.raises(ValueError, match="index_dir"):
        SearchEnvConfig(source="/some/folder")
    with pytest.raises(TypeError):
        SearchEnv(no_such_option=1)


async def test_reset_rejects_a_task_without_answers(env):
    with pytest.raises(ValueError, match="answers"):
        await env.reset(Task(id="x", env="search", prompt="?"), seed=0)


def test_default_env_passes_the_contract_checks(monkeypatch):
    python_docs_index()  # built at the default place under this process's cache root
    monkeypatch.setenv("AGENTGYM_CACHE", str(cache_root()))
    results = check_env(lambda: SearchEnv())
    assert [r.name for r in results if not r.passed] == []
    assert {r.name for r in results} >= {"reference solves", "wrong answer fails", "gymnasium", "determinism"}


def test_folder_env_builds_its_index_on_first_use_and_passes_checks(tmp_path):
    source = write_small_corpus(tmp_path / "src")
    make = lambda: SearchEnv(source=str(source), index_dir=str(tmp_path / "idx"))  # noqa: E731
    assert [r.name for r in check_env(make) if not r.passed] == []
    assert (tmp_path / "idx" / "manifest.json").exists()


async def test_a_backend_can_be_passed_in(tmp_path):
    info = build_index(write_small_corpus(tmp_path / "src"), tmp_path / "idx")
    from agentgym.envs.search.index import LocalIndex

    env = SearchEnv(backend=LocalIndex(info.path))
    await env.reset(TASK, seed=0)
    result = await env.step(call("search", query="teapot"))
    assert '"notes.txt"' in result.observation.text
