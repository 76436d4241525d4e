"""LLM-backed question and answer agents through any chat Policy, tested against a fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re

from agentgym.synth.search import SearchSynthConfig, synthesize
from agentgym.synth.search.check import check_tasks
from agentgym.synth.store import Store
from fake_openai import FakeOpenAIServer, chat_response

from agentgym.rollout.openai_policy import OpenAIPolicy


def responder(body):
    """Question agent (it has `propose_qa`): find the entity's module, then that module's functions, then propose the
    LAST function listed. Answer agent: submits a wrong guess."""
    tools = {t["function"]["name"] for t in body.get("tools", [])}
    messages = body["messages"]
    if "propose_qa" not in tools:
        return chat_response(tool_calls=[{"name": "submit", "arguments": {"answer": "os.path.join"}}])
    start = re.search(r"document '([^']+)'", messages[1]["content"]).group(1)
    results = [m["content"] for m in messages if m["role"] == "tool"]
    if not results:
        return chat_response(tool_calls=[{"id": "a", "name": "find", "arguments": {"doc_id": start,
                                                                                  "pattern": "Module:"}}])
    module = re.search(r"Module: (\S+)", results[0]).group(1)
    if len(results) == 1:
        return chat_response(tool_calls=[{"id": "b", "name": "find", "arguments": {"doc_id": module,
                                                                                  "pattern": "Functions:"}}])
    listed = re.search(r"Functions: (.*)$", results[1], re.MULTILINE)
    if listed is None:
        return chat_response(tool_calls=[{"id": "c", "name": "propose_qa",
                                          "arguments": {"question": "?", "answer": "", "evidence": []}}])
    last = [n.strip() for n in listed.group(1).split(",")][-1]
    name = start.rpartition(".")[2]
    question = f"Which function is listed last in the documentation of the module that defines `{name}`?"
    return chat_response(tool_calls=[{"id": "c", "name": "propose_qa",
                                      "arguments": {"question": question, "answer": last,
                                                    "evidence": [start, module]}}])


def test_llm_question_and_answer_agents_drive_the_pipeline(tmp_path):
    with FakeOpenAIServer(responder) as server:
        def policy(temperature):
            return OpenAIPolicy(model="fake", base_url=server.base_url, temperature=temperature, max_retries=0)

        config = SearchSynthConfig(num_tasks=2, max_units=12, seed=7)
        report = asyncio.run(synthesize(config, tmp_path / "u.jsonl", question_policy=policy(1.0),
                                        question_model="fake", progress=False,
                                        answer_policies=[("llm-cold", policy(0.0)), ("llm-hot", policy(1.0))]))
        requests = [r["body"] for r in server.requests]
    assert report.tasks, f"no LLM-proposed task survived: {report.rejections}"
    for task in report.tasks:
        assert task.meta["provenance"]["generator"] == "llm:fake"
        assert task.meta["provenance"]["num_llm_tokens"] == 18 * 3  # three question-agent turns, 18 tokens each
        assert task.meta["candidates"]["llm-cold"] == task.meta["candidates"]["llm-hot"] == "os.path.join"
        assert "listed last" in task.prompt and task.data["hops"] == []
    temperatures = {r["temperature"] for r in requests if "propose_qa" not in {t["function"]["name"]
                                                                                for t in r["tools"]}}
    assert temperatures == {0.0, 1.0}  # the answer agents ran with their own settings
    assert asyncio.run(check_tasks(report.tasks)) == []
    statuses = {r["status"] for r in Store(tmp_path / "u.jsonl").records()}
    assert "accepted" in statuses
