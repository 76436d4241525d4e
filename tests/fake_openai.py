"""A tiny OpenAI-compatible chat server on 127.0.0.1 for tests: it answers from a script and records every request."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from agentgym.jsonio import send_json

Responder = Callable[[dict[str, Any]], dict[str, Any]]


def chat_response(content: str | None = None, tool_calls: list[dict] | None = None, *,
                  reasoning: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": c.get("id", f"call_{i}"), "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"] if isinstance(c["arguments"], str)
                          else json.dumps(c["arguments"])}}
            for i, c in enumerate(tool_calls)
        ]
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


class FakeOpenAIServer:
    """`with FakeOpenAIServer(responder) as server:` → `server.base_url` is `http://127.0.0.1:PORT/v1`."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if self.path != "/v1/chat/completions":
                    self.send_response(404)
                    self.end_headers()
                    return
                send_json(self, 200, outer.responder(body))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def replay_responder(scripts: dict[str, list[dict[str, Any]]]) -> Responder:
    """Replays recorded multi-turn transcripts: the script whose key occurs in the conversation's first user message
    (the longest such key) answers, and its turn i answers the request that already holds i assistant messages. Each
    turn is ``{"content": str, "tool_calls": [{"name", "arguments"}]}``; past the last turn the reply is plain text.
    Stateless, so several conversations can replay at once."""

    def respond(body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        first_user = next((m.get("content") or "" for m in messages if m["role"] == "user"), "")
        keys = sorted((k for k in scripts if k in first_user), key=len, reverse=True)
        if not keys:
            return chat_response("I have no script for this conversation.")
        turns = scripts[keys[0]]
        index = sum(m["role"] == "assistant" for m in messages)
        if index >= len(turns):
            return chat_response("I have nothing more to do.")
        turn = turns[index]
        calls = [{**c, "id": f"call_{index}_{i}"} for i, c in enumerate(turn.get("tool_calls") or [])]
        return chat_response(turn.get("content") or None, calls or None)

    return respond
