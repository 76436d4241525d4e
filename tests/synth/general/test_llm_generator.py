"""The LLM generator against a fake OpenAI server on 127.0.0.1: canned pieces go through the same pipeline, including
a repair round (the first solution is wrong) and an escalation that adds a tool."""

from __future__ import annotations

import asyncio
import json

import pytest
from agentgym.synth.general import Pipeline, PipelineConfig
from agentgym.synth.general.llm import GeneratorReplyError, LLMGenerator, parse_reply
from fake_openai import FakeOpenAIServer, chat_response

from agentgym.rollout.openai_policy import OpenAIPolicy
from agentgym.taskio import load_tasks

ENV = {"sql": ["CREATE TABLE pets (name TEXT PRIMARY KEY, kind TEXT, age INTEGER)",
               "INSERT INTO pets VALUES ('Rex', 'dog', 7)", "INSERT INTO pets VALUES ('Tom', 'cat', 3)",
               "INSERT INTO pets VALUES ('Kiki', 'bird', 2)"],
       "tools_source": "def list_pets(db, kind):\n    return [r[0] for r in db.execute("
                       "'SELECT name FROM pets WHERE kind = ? ORDER BY name', (kind,))]\n",
       "tools": [{"name": "list_pets", "description": "Pet names of a kind.",
                  "parameters": {"type": "object", "properties": {"kind": {"type": "string"}}, "required": ["kind"]}}]}
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
          "additionalProperties": False}
VERIFY = ("def verify(answer, db):\n    ok = isinstance(answer, dict) and answer.get('name') == {name!r}\n"
          "    return ok, ['name checked']\n")
TASK_WRONG = {"prompt": "Name the dog in the shelter.", "answer_schema": SCHEMA, "verifier": VERIFY.format(name="Rex"),
              "solution": "def solution(tools):\n    return {'name': tools.list_pets(kind='cat')[0]}\n"}
TASK_FIXED = TASK_WRONG | {"solution": "def solution(tools):\n    return {'name': tools.list_pets(kind='dog')[0]}\n"}
HARDER = {"task": {"prompt": "How old is the shelter's dog? Give its name.", "answer_schema": SCHEMA,
                   "verifier": VERIFY.format(name="Rex"),
                   "solution": "def solution(tools):\n    dog = tools.list_pets(kind='dog')[0]\n"
                               "    tools.pet_age(name=dog)\n    return {'name': dog}\n"},
          "new_tools": [{"name": "pet_age", "description": "A pet's age.",
                         "parameters": {"type": "object", "properties": {"name": {"type": "string"}},
                                        "required": ["name"]}}],
          "new_tools_source": "def pet_age(db, name):\n    return db.execute('SELECT age FROM pets WHERE name = ?', "
                              "(name,)).fetchone()[0]\n"}


def responder(body):
    user = body["messages"][-1]["content"]
    if "STEP: environment" in user:
        return chat_response("```json\n" + json.dumps(ENV) + "\n```")
    if "STEP: task" in user:
        return chat_response(json.dumps(TASK_WRONG))
    if "STEP: repair" in user:
        return chat_response("Here you go: " + json.dumps(TASK_FIXED))
    if "STEP: escalate" in user:
        return chat_response(json.dumps({"done": True} if "level 1" in user else HARDER))
    return chat_response("?")


def test_parse_reply_finds_the_object():
    assert parse_reply('text ```json\n{"a": 1}\n``` more') == {"a": 1}
    assert parse_reply('sure: {"a": {"b": 2}} bye') == {"a": {"b": 2}}
    with pytest.raises(GeneratorReplyError, match="expected one JSON object"):
        parse_reply("no json here")


@pytest.mark.slow
def test_llm_generated_pieces_go_through_the_same_pipeline(tmp_path):
    with FakeOpenAIServer(responder) as server:
        policy = OpenAIPolicy(model="fake", base_url=server.base_url, max_retries=0)
        generator = LLMGenerator(policy, categories=["pet_shelter"], model="fake")
        pipeline = Pipeline(generator, tmp_path, PipelineConfig(categories=("pet_shelter",), num_tasks=2,
                                                                 concurrency=1))
        funnel = asyncio.run(pipeline.run())
        steps = [r["body"]["messages"][-1]["content"].split(".")[0] for r in server.requests]
    assert steps[:3] == ["STEP: environment", "STEP: task", "STEP: repair"]
    assert funnel.tasks["stored"] == 2 and generator.num_tokens > 0
    tasks = load_tasks(tmp_path / "tasks.jsonl")
    assert [t.meta["difficulty"]["level"] for t in tasks] == [0, 1]
    assert tasks[0].meta["provenance"]["num_repairs"] == 1 and tasks[0].meta["provenance"]["generator_model"] == "fake"
    assert [c["name"] for c in tasks[1].data["reference"]["calls"]] == ["list_pets", "pet_age"]
    assert all(all(c["passed"] for c in t.meta["quality"]) for t in tasks)
