"""The optional LLM issue writer, against a fake OpenAI-compatible server on 127.0.0.1: its text is used, and a reply
that quotes the patch (or a diff) is rejected in favour of the template. The writer never sees the patch."""

from __future__ import annotations

import asyncio

import pytest

from agentgym.envs.code_repair.fixture_repo import FILES, write_repo
from agentgym.rollout.openai_policy import OpenAIPolicy
from agentgym.synth.code.issue import policy_writer, reveals_patch, template_issue, write_issue
from agentgym.synth.code.pipeline import SynthConfig, synthesize
from agentgym.synth.code.projects import resolve_project
from agentgym.taskio import load_tasks
from fake_openai import FakeOpenAIServer, chat_response

PATCH = "--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-    return a + b\n+    return a - b\n"
FAILURES = {"tests/test_calc.py::test_add": "assert -1 == 3"}
CLEAN = "Adding two numbers gives the wrong result: add(1, 2) returns -1, but 3 is expected."
REPLIES = [
    CLEAN,
    "The bug is that `return a - b` should be `return a + b`.",  # quotes a changed line
    "Fix:\n@@ -1 +1 @@\n-    return a - b\n+    return a + b",  # a diff
    "",  # nothing written
]


def scripted(replies: list[str]):
    queue = list(replies)
    return lambda body: chat_response(queue.pop(0))


def test_written_issue_is_used_and_a_revealing_one_falls_back_to_the_template():
    with FakeOpenAIServer(scripted(REPLIES)) as server:
        writer = policy_writer(OpenAIPolicy(model="fake", base_url=server.base_url, max_retries=0))

        async def write_all():
            return [await write_issue("calc", FAILURES, PATCH, writer) for _ in REPLIES]

        results = asyncio.run(write_all())
    template = template_issue("calc", FAILURES, PATCH)
    assert results == [(CLEAN, "writer"), (template, "template"), (template, "template"), (template, "template")]
    assert len(server.requests) == len(REPLIES)
    for request in server.requests:
        (message,) = request["body"]["messages"]
        assert message["role"] == "user" and template in message["content"]
        assert "return a" not in message["content"] and "tools" not in request["body"]


def test_a_failing_writer_falls_back_to_the_template():
    def broken(prompt: str) -> str:
        raise ConnectionError("endpoint down")

    template = template_issue("calc", FAILURES, PATCH)
    assert asyncio.run(write_issue("calc", FAILURES, PATCH, broken)) == (template, "template")
    written = asyncio.run(write_issue("calc", FAILURES, PATCH, lambda prompt: "sync " + CLEAN))
    assert written == ("sync " + CLEAN, "writer")


@pytest.mark.slow
def test_pipeline_uses_the_configured_llm_writer(tmp_path):
    sources = "\n".join(text for path, text in FILES.items() if path.startswith("minilib/"))
    repo = write_repo(tmp_path / "minilib")
    out = tmp_path / "tasks.jsonl"
    # One worker, so the replies go to the kept tasks in order: a clean issue, then the whole source (which
    # contains the original line of any bug, i.e. a changed line of its patch).
    with FakeOpenAIServer(scripted([CLEAN, "Here is the code:\n" + sources])) as server:
        writer = policy_writer(OpenAIPolicy(model="fake", base_url=server.base_url, max_retries=0))
        funnel = synthesize(SynthConfig(project=resolve_project(str(repo)), out=out, n=2, seed=1, num_workers=1,
                                        issue_writer=writer))  # fmt: skip
    assert funnel.kept == 2
    first, second = load_tasks(out)
    assert (first.prompt, first.meta["issue_source"]) == (CLEAN, "writer")
    assert second.meta["issue_source"] == "template" and second.prompt.startswith("minilib: ")
    assert reveals_patch("Here is the code:\n" + sources, second.data["bug_patch"])
    assert not reveals_patch(second.prompt, second.data["bug_patch"])
    for request, task in zip(server.requests, (first, second), strict=True):
        content = request["body"]["messages"][0]["content"]
        assert not reveals_patch(content, task.data["bug_patch"])  # the writer never saw the patch
