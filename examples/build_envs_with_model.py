"""Build general-agent environments with a chat model: the builder agent (DeepSeek-V3.2 §3.2.3) over a text corpus.

Run it against any OpenAI-compatible server (vLLM, llama.cpp, a hosted API):
    python examples/build_envs_with_model.py --url http://127.0.0.1:8000/v1 --model MODEL \\
        --corpus ~/corpus --category "public libraries" --n 5 --out runs/built
The same from the shell: agentgym synth general --generator openai:MODEL@URL --category ... --corpus DIR --n 5

`--smoke` (or AGENTGYM_SMOKE=1, what the tests use) replays a recorded transcript through a fake server from this
repository's tests instead, so it needs no model.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

import agentgym
from agentgym.app.synth_build import synth_build_command
from agentgym.taskio import load_tasks

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "synth" / "general" / "builder_fixtures"


@contextlib.contextmanager
def fake_server():
    """A fake OpenAI-compatible server replaying the recorded bookstore build (tests/fake_openai.py)."""
    sys.path.insert(0, str(REPO / "tests"))
    from fake_openai import FakeOpenAIServer, replay_responder

    script = [json.loads(line) for line in (FIXTURES / "bookstore.jsonl").read_text().splitlines()]
    with FakeOpenAIServer(replay_responder({"bookstore": script})) as server:
        yield server.base_url


async def play_references(out: Path) -> list[float]:
    """Each stored task's reference solution in the `general` env: the reward it gets (1.0 for a good build)."""
    env = agentgym.make("general", tasks=out)
    rewards = []
    try:
        for task in load_tasks(out / "tasks.jsonl"):
            await env.reset(task, seed=0)
            rewards.append((await env.step(env.reference_action(task))).reward)
    finally:
        await env.close()
    return rewards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model", default="default", help="served model name")
    parser.add_argument("--corpus", type=Path, default=FIXTURES / "corpus", help="folder of text files")
    parser.add_argument("--category", default="bookstore")
    parser.add_argument("--n", type=int, default=1, help="environments to build")
    parser.add_argument("--out", type=Path, default=Path("runs/built"))
    parser.add_argument("--smoke", action="store_true", help="replay a recorded build through a fake server")
    args = parser.parse_args()
    smoke = args.smoke or os.environ.get("AGENTGYM_SMOKE") == "1"
    if not smoke and not args.url:
        parser.error("--url is required (or --smoke)")
    with fake_server() if smoke else contextlib.nullcontext(args.url) as url:
        records = synth_build_command(f"openai:{args.model}@{url}", (args.category,), args.corpus, args.out,
                                      num_envs=args.n, max_level=1 if smoke else 2)
    stored = [r for r in records if r["status"] == "stored"]
    print(f"{len(stored)}/{len(records)} environment(s) stored in {args.out}")
    if stored:
        print(f"reference rewards in the general env: {asyncio.run(play_references(args.out))}")


if __name__ == "__main__":
    main()
