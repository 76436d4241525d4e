"""RPT task generation: hard next-token positions of a corpus under a proxy model become "predict what comes next".

Each task stores everything its verifier needs — the true continuation and the byte offsets where the reference
tokenization's tokens end inside it — so the `rpt` env verifies with no tokenizer and no model.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from agentgym.api import Task
from agentgym.synth.rpt.corpus import Document, corpus_fingerprint
from agentgym.synth.rpt.proxy import NextTokenProxy, ScoredText

DATASET_NAME = "rpt"


@dataclass(frozen=True, kw_only=True, slots=True)
class RptTaskConfig:
    """How tasks are picked and how hard they are.

    Attributes:
        min_entropy_bits: only positions where the proxy's next-token entropy is at least this (difficulty knob).
        num_tokens: how many reference tokens the answer must cover (difficulty knob; 1 = just the next token).
        max_continuation_tokens: tokens of true continuation stored; a longer prediction cannot be checked and fails.
        min_prefix_chars: the target must have at least this much text before it in its document.
        max_prefix_chars: the prompt shows at most this many characters before the target.
        max_tasks_per_document: spread tasks over documents instead of mining one long text.
    """

    min_entropy_bits: float = 6.0
    num_tokens: int = 1
    max_continuation_tokens: int = 16
    min_prefix_chars: int = 200
    max_prefix_chars: int = 800
    max_tasks_per_document: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.min_entropy_bits, (int, float)) or not 0 <= self.min_entropy_bits < 64:
            raise ValueError(f"min_entropy_bits must be a number in [0, 64), got {self.min_entropy_bits!r}")
        if not isinstance(self.num_tokens, int) or not 1 <= self.num_tokens <= 64:
            raise ValueError(f"num_tokens must be an integer in [1, 64], got {self.num_tokens!r}")
        if not isinstance(self.max_continuation_tokens, int) or self.max_continuation_tokens < self.num_tokens:
            raise ValueError(f"max_continuation_tokens must be an integer >= num_tokens ({self.num_tokens}), "
                             f"got {self.max_continuation_tokens!r}")
        if not isinstance(self.min_prefix_chars, int) or self.min_prefix_chars < 1:
            raise ValueError(f"min_prefix_chars must be a positive integer, got {self.min_prefix_chars!r}")
        if not isinstance(self.max_prefix_chars, int) or self.max_prefix_chars < self.min_prefix_chars:
            raise ValueError(f"max_prefix_chars must be an integer >= min_prefix_chars ({self.min_prefix_chars}), "
                             f"got {self.max_prefix_chars!r}")
        if not isinstance(self.max_tasks_per_document, int) or self.max_tasks_per_document < 1:
            raise ValueError(f"max_tasks_per_document must be a positive integer, got {self.max_tasks_per_document!r}")


@dataclass(frozen=True, slots=True)
class Target:
    """A position chosen for a task: the prefix ends at byte `cut`; the true continuation and its token ends follow."""

    cut: int
    prefix: str
    continuation: str
    token_ends: list[int]
    answer: str
    entropy_bits: float


def char_offsets(text: str) -> dict[int, int]:
    """Byte offset -> character offset for every character start of `text` (and its end), in one pass."""
    out, at = {}, 0
    for i, ch in enumerate(text):
        out[at] = i
        at += len(ch.encode("utf-8"))
    out[at] = len(text)
    return out


def find_target(text: str, chars: dict[int, int], scored: ScoredText, index: int,
                config: RptTaskConfig) -> Target | None:
    """The task target at token `index` of `text`, or None when that position cannot make a fair task.

    `chars` is `char_offsets(text)`. A position is fair when the proxy is uncertain enough there, the token is not
    pure whitespace (nobody can box invisible text), enough text precedes it, the first `num_tokens` tokens exist and
    end on whole characters (byte-level BPE can split one), and the reference answer has balanced braces (so it fits
    in a ``\\boxed{}``). The spaces a token starts with move into the prefix, so the answer to "The quick brown" +
    " fox" is "fox", not " fox".
    """
    h = scored.entropy_bits[index]
    if math.isnan(h) or h < config.min_entropy_bits or index + config.num_tokens > len(scored.ends):
        return None
    start = scored.ends[index - 1] if index else 0
    if start not in chars:
        return None
    first = text[chars[start]:chars.get(scored.ends[index], chars[start] + 1)]
    lead = len(first) - len(first.lstrip(" "))
    cut = start + lead
    if not first.strip() or chars[cut] < config.min_prefix_chars:
        return None
    answer_end = scored.ends[index + config.num_tokens - 1]
    if answer_end not in chars:
        return None
    last = min(index + config.max_continuation_tokens, len(scored.ends)) - 1
    while scored.ends[last] not in chars:
        last -= 1  # byte-level BPE may end the window inside a character; answer_end is a floor
    answer = text[chars[cut]:chars[answer_end]]
    if not _braces_balanced(answer):
        return None
    prefix = trim_prefix(text[max(0, chars[cut] - config.max_prefix_chars):chars[cut]], config.max_prefix_chars,
                         is_cut=chars[cut] > config.max_prefix_chars)
    return Target(cut=cut, prefix=prefix, continuation=text[chars[cut]:chars[scored.ends[last]]],
                  token_ends=[e - cut for e in scored.ends[index:last + 1]], answer=answer, entropy_bits=h)


def trim_prefix(tail: str, max_chars: int, *, is_cut: bool) -> str:
    """`tail` (the last `max_chars` characters before the target), starting at a line or word start when it was cut
    out of a longer text and such a start is near."""
    if not is_cut:
        return tail
    for sep in ("\n", " "):
        at = tail.find(sep)
        if 0 <= at < max_chars // 2:
            return tail[at + 1:]
    return tail


def generate_tasks(docs: Sequence[Document], proxy: NextTokenProxy, n: int, *, seed: int = 0,
                   config: RptTaskConfig = RptTaskConfig()) -> list[Task]:
    """`n` tasks from `docs`; the same docs, proxy, seed and config always give the same tasks.

    Documents are visited in a seeded order and scored lazily (a model proxy is slow), and up to
    `max_tasks_per_document` fair positions are drawn from each.

    Raises:
        ValueError: the corpus holds fewer than `n` fair positions under `config`.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    rng = random.Random(f"{DATASET_NAME}-{seed}")
    order = list(range(len(docs)))
    rng.shuffle(order)
    fingerprint = corpus_fingerprint(list(docs))
    tasks: list[Task] = []
    for doc_index in order:
        if len(tasks) >= n:
            break
        doc = docs[doc_index]
        scored = proxy.score(doc.text)
        chars = char_offsets(doc.text)
        targets = [t for t in (find_target(doc.text, chars, scored, i, config) for i in range(len(scored.ends))) if t]
        picked = rng.sample(targets, min(len(targets), config.max_tasks_per_document, n - len(tasks)))
        for target in sorted(picked, key=lambda t: t.cut):
            tasks.append(make_task(target, doc, index=len(tasks), seed=seed, proxy=proxy, config=config,
                                   fingerprint=fingerprint))
    if len(tasks) < n:
        raise ValueError(f"only {len(tasks)} of {n} tasks found: lower min_entropy_bits ({config.min_entropy_bits}) "
                         f"or min_prefix_chars ({config.min_prefix_chars}), or give a larger corpus")
    return tasks


def make_task(target: Target, doc: Document, *, index: int, seed: int, proxy: NextTokenProxy,
              config: RptTaskConfig, fingerprint: str) -> Task:
    """The `Task` of one target, with the prompt, the verifier's data and provenance."""
    return Task(
        id=f"{DATASET_NAME}-{seed}-{index}",
        env=DATASET_NAME,
        prompt=render_prompt(target.prefix, doc.title, config.num_tokens),
        data={"prefix": target.prefix, "continuation": target.continuation, "token_ends": target.token_ends,
              "num_tokens": config.num_tokens, "answer": target.answer},
        meta={"generator": DATASET_NAME, "seed": seed, "index": index, "document": doc.id, "byte_offset": target.cut,
              "entropy_bits": round(target.entropy_bits, 4), "proxy": proxy.name, "tokenizer": proxy.tokenizer_name,
              "corpus": fingerprint, "config": asdict(config)},
    )


def render_prompt(prefix: str, title: str, num_tokens: int) -> str:
    """The user message: the text so far, where exactly it stops, and what to put in the box."""
    what = "the next token" if num_tokens == 1 else f"at least the next {num_tokens} tokens"
    return (
        f"Here is the beginning of a text ({title}). Predict how it continues.\n\n"
        f"<text>\n{prefix}\n</text>\n\n"
        f"The text stops right after {_describe_last_char(prefix)}; the continuation starts immediately after it.\n"
        f"Reason about what comes next, then write {what} (usually a word, a number or a punctuation mark) "
        f"inside \\boxed{{}}, for example \\boxed{{the}}. It must match the true continuation byte for byte and end "
        f"where a token ends; you may write more than asked if every byte is right."
    )


def _describe_last_char(prefix: str) -> str:
    last = prefix[-1:]
    names = {" ": "a space", "\n": "a line break", "\t": "a tab", "": "nothing (the text is empty)"}
    return names.get(last, f"the character {last!r}")


def _braces_balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0
