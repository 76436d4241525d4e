"""RPT synthesis: the word-piece tokenization, the bigram proxy's entropy, target picking, determinism, the shipped file."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest

from agentgym.envs.rpt.tasks import SHIPPED_TASKS, read_tasks
from agentgym.envs.rpt.verify import score_prediction
from agentgym.synth.rpt import (
    BigramProxy,
    Document,
    RptTaskConfig,
    corpus_fingerprint,
    folder_corpus,
    generate_tasks,
    python_docs_corpus,
)
from agentgym.synth.rpt.build import SHIPPED_CONFIG, SHIPPED_NUM_TASKS, SHIPPED_SEED, build_tasks, main
from agentgym.synth.rpt.generate import char_offsets, find_target
from agentgym.synth.rpt.proxy import ScoredText
from agentgym.synth.rpt.wordpiece import split_tokens, token_ends

DOCS = python_docs_corpus()
PROXY = BigramProxy([d.text for d in DOCS])


# --- word pieces -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, tokens", [
    ("It's 42 (ok).", ["It", "'s", " 42", " (", "ok", ")", "."]),
    ("The quick  brown\n\nfox", ["The", " quick", " ", " brown", "\n\n", "fox"]),
    ("x = f(a_b, 3.5)", ["x", " =", " f", "(", "a_b", ",", " 3", ".", "5", ")"]),
    ("café 日本", ["café", " 日本"]),
    ("", []),
])
def test_split_tokens(text, tokens):
    assert split_tokens(text) == tokens


def test_tokens_always_concatenate_back_to_the_text():
    rng = random.Random(0)
    alphabet = "ab Z_9 \n\t.,'{}()é日🙂\u200b\r"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert "".join(split_tokens(text)) == text
        ends = token_ends(text)
        assert ends == sorted(set(ends)) and (ends[-1] if ends else 0) == len(text.encode("utf-8"))


# --- the bigram proxy ------------------------------------------------------------------------------------------------
def test_bigram_entropy_closed_form_matches_brute_force():
    proxy = BigramProxy(["the cat sat on the mat. the dog sat.", "a cat and a dog."])
    vocab = list(proxy.unigrams) + ["\x01unknown"]  # the unknown slot stands for every unseen token
    for context in ["the", " the", " sat", "a", ".", "never seen"]:
        probs = [proxy.probability(v, context) for v in vocab]
        assert math.isclose(sum(probs), 1.0, rel_tol=1e-12)
        brute = -sum(p * math.log(p) for p in probs)
        assert math.isclose(proxy.entropy_nats(context), brute, rel_tol=1e-12)


def test_bigram_entropy_is_high_where_many_tokens_follow():
    proxy = BigramProxy(["x a. x b. x c. x d. x e. y z. y z. y z. y z. y z."])
    assert proxy.entropy_nats(" x") > proxy.entropy_nats(" y") + 1.0


def test_bigram_needs_text():
    with pytest.raises(ValueError, match="texts must hold at least one document"):
        BigramProxy([])


# --- picking targets -------------------------------------------------------------------------------------------------
def scored(text: str, entropy: float = 9.0) -> ScoredText:
    return ScoredText(ends=token_ends(text), entropy_bits=[entropy] * len(split_tokens(text)))


def target_at(text: str, token: str, config: RptTaskConfig, entropy: float = 9.0):
    index = split_tokens(text).index(token)
    return find_target(text, char_offsets(text), scored(text, entropy), index, config)


LOOSE = RptTaskConfig(min_entropy_bits=1.0, min_prefix_chars=6, max_prefix_chars=100, max_continuation_tokens=4)


def test_a_target_moves_its_leading_space_into_the_prefix():
    target = target_at("The quick brown fox jumps over the dog", " fox", LOOSE)
    assert target.prefix == "The quick brown " and target.answer == "fox"
    assert target.continuation == "fox jumps over the"
    assert target.token_ends == [3, 9, 14, 18]


def test_targets_that_cannot_make_fair_tasks_are_refused():
    text = "Some text here {and braces} and more words\n\nto come"
    assert target_at(text, " {", LOOSE) is None  # "{" alone does not fit in a box
    assert target_at(text, "\n\n", LOOSE) is None  # pure whitespace is invisible
    assert target_at(text, " text", LOOSE) is None  # under min_prefix_chars
    assert target_at(text, " more", LOOSE, entropy=0.5) is None  # too predictable
    assert target_at(text, " come", replace(LOOSE, num_tokens=2)) is None  # not enough tokens left
    assert target_at(text, " more", LOOSE).answer == "more"


def test_unicode_targets_count_bytes():
    text = "Un café très noir, s'il vous plaît, merci"
    target = target_at(text, " très", LOOSE)
    assert target.answer == "très" and target.token_ends[0] == len("très".encode())
    assert score_prediction("très noir", target.continuation, target.token_ends).passed


def test_the_prefix_is_trimmed_to_a_line_start():
    text = "intro " * 30 + "\nsecond line " + "word " * 10 + "target"
    target = target_at(text, " target", replace(LOOSE, max_prefix_chars=100))
    assert target.prefix == "second line " + "word " * 10
    no_line = target_at("intro " * 40 + "target", " target", replace(LOOSE, max_prefix_chars=100))
    assert no_line.prefix == "intro " * 16  # cut at a word start instead


# --- generation ------------------------------------------------------------------------------------------------------
def test_same_seed_same_tasks_and_other_seeds_differ():
    a = generate_tasks(DOCS, PROXY, 20, seed=5)
    assert a == generate_tasks(DOCS, PROXY, 20, seed=5)
    b = generate_tasks(DOCS, PROXY, 20, seed=6)
    assert len({t.data["prefix"] for t in a} & {t.data["prefix"] for t in b}) <= 2


def test_generated_tasks_are_true_to_the_corpus_and_pass_their_own_answer():
    by_id = {d.id: d for d in DOCS}
    for task in generate_tasks(DOCS, PROXY, 40, seed=1):
        data, meta = task.data, task.meta
        text = by_id[meta["document"]].text.encode("utf-8")
        cut = meta["byte_offset"]
        assert text[:cut].decode("utf-8").endswith(data["prefix"])
        assert text[cut:].decode("utf-8").startswith(data["continuation"])
        assert meta["entropy_bits"] >= SHIPPED_CONFIG.min_entropy_bits
        assert score_prediction(data["answer"], data["continuation"], data["token_ends"]).passed
        assert not score_prediction(data["answer"] + "\u2603", data["continuation"], data["token_ends"]).passed


def test_difficulty_knobs():
    hard = generate_tasks(DOCS, PROXY, 10, seed=0, config=RptTaskConfig(min_entropy_bits=8.0))
    assert all(t.meta["entropy_bits"] >= 8.0 for t in hard)
    multi = generate_tasks(DOCS, PROXY, 10, seed=0, config=RptTaskConfig(num_tokens=3))
    for task in multi:
        data = task.data
        assert len(data["answer"].encode("utf-8")) == data["token_ends"][2]
        assert "at least the next 3 tokens" in task.prompt
        first_token = data["continuation"].encode("utf-8")[: data["token_ends"][0]].decode("utf-8")
        assert not score_prediction(first_token, data["continuation"], data["token_ends"], 3).passed
        assert score_prediction(data["answer"], data["continuation"], data["token_ends"], 3).passed


def test_too_few_positions_is_an_error_that_names_the_knobs():
    with pytest.raises(ValueError, match=r"only \d+ of 10000 tasks found: lower min_entropy_bits"):
        generate_tasks(DOCS[:2], PROXY, 10_000, seed=0)


@pytest.mark.parametrize("field, value", [("min_entropy_bits", -1.0), ("num_tokens", 0), ("min_prefix_chars", 0),
                                          ("max_continuation_tokens", 0), ("max_prefix_chars", 10),
                                          ("max_tasks_per_document", 0)])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field} must be"):
        RptTaskConfig(**{field: value})


def test_a_folder_corpus(tmp_path):
    rng = random.Random(0)
    words = ["Ünïcode", "prose", "about", "foxes", "and", "dogs", "café", "naïve", "jumps", "over", "lazy", "日本"]
    (tmp_path / "a.txt").write_text(" ".join(rng.choice(words) for _ in range(400)), encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# Title\r\n\r\nThe cat sat on the mat.  \r\n" * 30, encoding="utf-8")
    (tmp_path / "c.bin").write_bytes(b"\x00\xff")
    docs = folder_corpus(tmp_path)
    assert [d.id for d in docs] == ["file:a.txt", "file:sub/b.md"]
    assert "\r" not in docs[1].text and "  \n" not in docs[1].text
    config = RptTaskConfig(min_entropy_bits=0.5, min_prefix_chars=50, max_tasks_per_document=4)
    tasks = generate_tasks(docs, BigramProxy([d.text for d in docs]), 4, seed=0, config=config)
    assert all(score_prediction(t.data["answer"], t.data["continuation"], t.data["token_ends"]).passed for t in tasks)
    with pytest.raises(ValueError, match="holds no UTF-8 text file"):
        folder_corpus(tmp_path / "sub", suffixes=(".rst",))
    with pytest.raises(ValueError, match="is not a directory"):
        folder_corpus(tmp_path / "a.txt")


def test_corpus_fingerprint_sees_every_change():
    docs = [Document("a", "A", "one"), Document("b", "B", "two")]
    assert corpus_fingerprint(docs) == corpus_fingerprint(list(docs))
    assert corpus_fingerprint(docs) != corpus_fingerprint([Document("a", "A", "one"), Document("b", "B", "twO")])
    assert corpus_fingerprint(docs) != corpus_fingerprint([Document("a", "A", "onet"), Document("b", "B", "wo")])


# --- the shipped task file -------------------------------------------------------------------------------------------
def test_regenerating_the_shipped_file_gives_the_same_tasks():
    shipped = read_tasks(SHIPPED_TASKS)
    assert len(shipped) == SHIPPED_NUM_TASKS
    assert {t.meta["seed"] for t in shipped} == {SHIPPED_SEED}
    rebuilt = build_tasks()
    if shipped[0].meta["corpus"] == corpus_fingerprint(DOCS):
        assert rebuilt == shipped
    else:  # another CPython's pydoc topics: the pipeline must still be deterministic on them
        assert rebuilt == build_tasks() and len(rebuilt) == SHIPPED_NUM_TASKS


def test_the_command_line_writes_a_task_file(tmp_path, capsys):
    out = tmp_path / "tasks.jsonl"
    assert main(["--n", "5", "--seed", "2", "--num-tokens", "2", "--out", str(out)]) == 0
    tasks = read_tasks(out)
    assert len(tasks) == 5 and all(t.data["num_tokens"] == 2 for t in tasks)
    assert "wrote 5 tasks" in capsys.readouterr().out
    assert main(["--min-entropy-bits", "99", "--out", str(out)]) == 2
    assert "min_entropy_bits must be a number in [0, 64)" in capsys.readouterr().err
