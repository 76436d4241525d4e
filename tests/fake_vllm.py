"""A fake vLLM OpenAI-compatible server on 127.0.0.1: token-id completions with logprobs, and the weight-sync routes.

`/v1/completions` answers from `responder(body) -> list of choices`; `/collective_rpc`, `/reset_prefix_cache` and
`/reload_weights` are recorded (with `on_reload(body)` called before answering, so a test can read the weights file at
that moment). Every request is kept in `server.requests` in arrival order.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from agentgym.jsonio import send_json

Choices = Callable[[dict[str, Any]], list[dict[str, Any]]]
SYNC_PATHS = ("/collective_rpc", "/reset_prefix_cache", "/reload_weights")


def completion_choice(index: int, token_ids: list[int], logprobs: list[float], *, with_ids: bool = True,
                      routed_experts: Any = None) -> dict[str, Any]:
    """A vLLM completions choice: `token_ids` (return_token_ids) and `logprobs.tokens` as "token_id:N"."""
    choice: dict[str, Any] = {
        "index": index, "text": "", "finish_reason": "stop",
        "logprobs": {"tokens": [f"token_id:{t}" for t in token_ids], "token_logprobs": logprobs,
                     "top_logprobs": [{f"token_id:{t}": lp} for t, lp in zip(token_ids, logprobs)],
                     "text_offset": [0] * len(token_ids)},
    }
    if with_ids:
        choice["token_ids"] = token_ids
    if routed_experts is not None:
        choice["routed_experts"] = routed_experts
    return choice


def echo_choices(body: dict[str, Any], *, eos_id: int = 2, num_layers: int = 2, top_k: int = 2) -> list[dict]:
    """For the char tokenizer's echo env: the shown letter (prompt[-5]) or another one, then eos; seeded by the
    request's seed and the sample index, so the same request gives the same answer."""
    prompt = body["prompt"]
    out = []
    for j in range(body.get("n", 1)):
        rng = random.Random(body.get("seed", 0) * 131 + j)
        letter = prompt[-5] if rng.random() < 0.5 else 3 + rng.randrange(8)
        ids = [letter, eos_id]
        logprobs = [-round(rng.uniform(0.05, 3.0), 4), -0.01]
        experts = None
        if body.get("return_routed_experts"):
            rows = len(prompt) + len(ids)  # one row more than needed: the client keeps prompt + completion - 1
            experts = [[[(r + layer + k) % 4 for k in range(top_k)] for layer in range(num_layers)] for r in range(rows)]
        out.append(completion_choice(j, ids, logprobs, routed_experts=experts))
    return out


class FakeVLLMServer:
    """`with FakeVLLMServer() as server:` → `server.base_url` is `http://127.0.0.1:PORT/v1`."""

    def __init__(self, choices: Choices = echo_choices, on_reload: Callable[[dict], None] | None = None) -> None:
        self.choices = choices
        self.on_reload = on_reload
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw) if raw.strip() else {}
                with outer.lock:
                    outer.requests.append({"path": self.path, "body": body})
                if self.path == "/v1/completions":
                    payload: Any = {"id": "cmpl-fake", "object": "text_completion", "model": body.get("model"),
                                    "choices": outer.choices(body),
                                    "usage": {"prompt_tokens": len(body["prompt"]), "completion_tokens": 2}}
                elif self.path in SYNC_PATHS:
                    if outer.on_reload is not None and self.path != "/reset_prefix_cache":
                        outer.on_reload(body)
                    payload = {"status": "ok"} if self.path != "/collective_rpc" else {"results": [None]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                send_json(self, 200, payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
