"""A character tokenizer and a one-turn "echo the letter" env: the smallest setting where GRPO learning is visible.

A model trained from scratch must learn to answer the letter the user shows; a random policy over the vocabulary
earns about 1/vocab. Used by the learning test, the resume test and `examples/train_grpo.py --toy`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from agentgym.api import Action, Observation, StepResult, Task, ToolSpec, Verdict
from agentgym.errors import ResetNeeded

BOS, EOS, PAD = "<|im_start|>", "<|im_end|>", "<pad>"
LETTERS = "abcdefgh"
ALPHABET = LETTERS + "sut\n "


class CharTokenizer:
    """One id per character of `alphabet` after three specials (pad 0, bos 1 = `<|im_start|>`, eos 2 = `<|im_end|>`).

    The chat format is a compact ChatML: each message is `<|im_start|>` + role initial + content + `<|im_end|>` + newline; the
    generation prompt is `<|im_start|>a`. Tools are not rendered (the toy env has none). Prompts stay shorter than the
    tiny preset's sparse-attention top-k, so every token is visible to every query.
    """

    def __init__(self, alphabet: str = ALPHABET) -> None:
        self.specials = [PAD, BOS, EOS]
        self.alphabet = alphabet
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2
        self.stop_ids = [self.eos_id]
        self.default_system = None
        self._ids = {c: i + len(self.specials) for i, c in enumerate(alphabet)}

    @property
    def vocab_size(self) -> int:
        return len(self.specials) + len(self.alphabet)

    def encode(self, text: str) -> list[int]:
        out, i = [], 0
        while i < len(text):
            for sid, special in enumerate(self.specials):
                if text.startswith(special, i):
                    out.append(sid)
                    i += len(special)
                    break
            else:
                out.append(self._ids.get(text[i], self._ids[" "]))
                i += 1
        return out

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = False) -> str:
        parts = []
        for t in ids:
            if t < len(self.specials):
                if not skip_special_tokens:
                    parts.append(self.specials[t])
            elif t - len(self.specials) < len(self.alphabet):
                parts.append(self.alphabet[t - len(self.specials)])
        return "".join(parts)

    def render_chat(self, messages: list[dict], tools: list[dict] | None = None,
                    add_generation_prompt: bool = True) -> str:
        body = "".join(f"{BOS}{m['role'][0]}{m.get('content') or ''}{EOS}\n" for m in messages)
        return body + (f"{BOS}a" if add_generation_prompt else "")

    def encode_chat(self, messages: list[dict], tools: list[dict] | None = None,
                    add_generation_prompt: bool = True) -> list[int]:
        return self.encode(self.render_chat(messages, tools, add_generation_prompt))


class EchoLetterEnv:
    """One turn: the user shows a letter; reward 1 iff the reply starts with it (components: accuracy)."""

    name = "echo"

    def __init__(self, *, letters: str = LETTERS) -> None:
        self.letters = letters
        self.task: Task | None = None

    def tools(self) -> list[ToolSpec]:
        return []

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        from agentgym.api import Message

        self.task = task
        return Observation(messages=[Message(role="user", content=task.prompt)])

    async def step(self, action: Action) -> StepResult:
        if self.task is None:
            raise ResetNeeded("EchoLetterEnv.step called before reset")
        expected = self.task.data["answer"]
        passed = action.text.strip()[:1] == expected
        verdict = Verdict(reward=float(passed), passed=passed, reasons=[f"reply {action.text!r} vs {expected!r}"],
                          components={"accuracy": float(passed)})
        self.task = None
        return StepResult(observation=Observation(), reward=verdict.reward, terminated=True, verdict=verdict)

    async def close(self) -> None:
        self.task = None

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        rng = random.Random(seed)
        out = []
        for i in range(n):
            letter = rng.choice(self.letters)
            out.append(Task(id=f"echo-{seed}-{i}", env=self.name, prompt=letter, data={"answer": letter}))
        return out
