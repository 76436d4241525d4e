"""`HttpBackend` against fake search servers on 127.0.0.1: the wire format, errors, and a full oracle episode."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentgym.api import Action, Task, ToolCall
from agentgym.envs.search import (
    BackendUnavailable,
    DocumentNotFound,
    HttpBackend,
    SearchEnv,
)
from agentgym.envs.search.index import open_index
from agentgym.envs.search.oracle import oracle_action
from agentgym.envs.search.serve import make_server, serve_in_thread
from agentgym.rollout import RolloutConfig, ScriptedPolicy, run_episodes

from search_fixtures import python_docs_index

DOCS = {"w/1": {"id": "w/1", "title": "Lighthouses", "text": "Lighthouses guide ships.\nThe oldest is in Egypt.\n",
                "url": "https://example.org/w/1"}}


class FakeSearchAPI(BaseHTTPRequestHandler):
    """A hand-written stand-in for a web-search API; `mode` makes it misbehave on purpose."""

    mode = "ok"
    seen: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeSearchAPI.seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.mode == "error":
            return self._send(500, b'{"error": "boom"}')
        if self.mode == "garbage":
            return self._send(200, b"<html>not json</html>")
        if self.mode == "slow":
            time.sleep(1.0)
        if self.path == "/search":
            results = [{"id": d["id"], "title": d["title"], "snippet": d["text"][:20], "url": d["url"]}
                       for d in DOCS.values() if body["query"].lower() in d["text"].lower()]
            return self._send(200, json.dumps({"results": results[: body["k"]]}).encode())
        if body["id"] not in DOCS:
            return self._send(404, b'{"error": "not found"}')
        return self._send(200, json.dumps(DOCS[body["id"]]).encode())

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fake_api():
    FakeSearchAPI.mode, FakeSearchAPI.seen = "ok", []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSearchAPI)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_search_and_get_speak_the_documented_json(fake_api):
    backend = HttpBackend(fake_api, api_key="sekret")
    hits = backend.search("egypt", 3)
    assert [(h.id, h.title, h.url) for h in hits] == [("w/1", "Lighthouses", "https://example.org/w/1")]
    assert FakeSearchAPI.seen[0] == {"path": "/search", "body": {"query": "egypt", "k": 3}, "auth": "Bearer sekret"}
    doc = backend.get("w/1")
    assert doc.text.startswith("Lighthouses guide") and FakeSearchAPI.seen[1]["body"] == {"id": "w/1"}
    with pytest.raises(DocumentNotFound, match="nope"):
        backend.get("nope")


@pytest.mark.parametrize(("mode", "message"), [("error", "HTTP 500"), ("garbage", "not JSON"),
                                               ("slow", "did not answer")])
def test_a_misbehaving_server_is_backend_unavailable(fake_api, mode, message):
    FakeSearchAPI.mode = mode
    with pytest.raises(BackendUnavailable, match=message):
        HttpBackend(fake_api, timeout_s=0.3).search("egypt", 3)


def test_bad_base_urls_are_rejected():
    with pytest.raises(ValueError, match="base_url"):
        HttpBackend("ftp://x")


async def test_env_over_http_reports_agent_and_server_faults_apart(fake_api):
    env = SearchEnv(endpoint=fake_api)
    await env.reset(Task(id="t", env="search", prompt="Where is the oldest?", data={"answer": "Egypt"}), seed=0)
    found = await env.step(Action(tool_calls=[ToolCall(id="1", name="search", arguments={"query": "egypt"})]))
    assert '"w/1"' in found.observation.text and "url: https://example.org/w/1" in found.observation.text
    missing = await env.step(Action(tool_calls=[ToolCall(id="2", name="open", arguments={"doc_id": "w/2"})]))
    assert missing.error == "model_error" and "no document with id 'w/2'" in missing.observation.text
    FakeSearchAPI.mode = "error"
    broken = await env.step(Action(tool_calls=[ToolCall(id="3", name="search", arguments={"query": "egypt"})]))
    assert broken.error == "env_error" and "not your fault" in broken.observation.text
    done = await env.step(Action(tool_calls=[ToolCall(id="4", name="submit", arguments={"answer": "egypt."})]))
    assert done.reward == 1.0


def test_oracle_solves_tasks_through_a_served_local_index():
    index = open_index(python_docs_index())
    server = make_server(index)
    serve_in_thread(server)
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}"
        tasks = SearchEnv(index_dir=str(index.path)).sample_tasks(12, seed=5)
        config = RolloutConfig(concurrency=4, max_turns=8, progress=False)
        trajectories = asyncio.run(run_episodes(lambda: SearchEnv(endpoint=endpoint), ScriptedPolicy(oracle_action),
                                                tasks, config))
    finally:
        server.shutdown()
        server.server_close()
    assert sum(t.reward for t in trajectories) >= 0.95 * len(tasks)
