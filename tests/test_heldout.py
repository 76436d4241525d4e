"""The held-out split is seeded, disjoint by id and by content, and the overlap guard names what overlaps."""

from __future__ import annotations

import re

import pytest

from agentgym.api import Task
from agentgym.heldout import HeldoutOverlapError, check_disjoint, content_hash, split_heldout


def tasks(n: int, start: int = 0) -> list[Task]:
    return [Task(id=f"t-{i}", env="arith", prompt=f"What is {i} + 1?", data={"answer": i + 1})
            for i in range(start, start + n)]


def test_split_is_deterministic_sized_and_independent_of_order():
    pool = tasks(50)
    a, b = split_heldout(pool, 8, seed=3), split_heldout(pool, 8, seed=3)
    assert [t.id for t in a.heldout] == [t.id for t in b.heldout] and len(a.heldout) == 8
    assert len(a.train) == 42 and a.num_distinct == 50
    assert {t.id for t in split_heldout(pool[::-1], 8, seed=3).heldout} == {t.id for t in a.heldout}
    assert {t.id for t in split_heldout(pool, 8, seed=4).heldout} != {t.id for t in a.heldout}
    assert "split_heldout(seed=3): 8 of 50 distinct tasks held out" in a.describe()


def test_split_is_disjoint_by_id_and_by_content():
    pool = tasks(30)
    # a re-generated duplicate (new id, same content, other folder) and a repeated draw (same id, as cycling
    # generators give) must land on the same side as their original
    pool += [pool[0].model_copy(update={"id": "t-0-again", "data": {**pool[0].data, "env_dir": "/elsewhere"}}),
             pool[1], pool[2].model_copy(update={"meta": {"seed": 99}})]
    for seed in range(20):
        split = split_heldout(pool, 10, seed=seed)
        check_disjoint(split.train, split.heldout)
        held = {content_hash(t) for t in split.heldout}
        assert not held & {content_hash(t) for t in split.train}
        assert not {t.id for t in split.heldout} & {t.id for t in split.train}
        assert len(split.heldout) == 10 and len({t.id for t in split.heldout}) == 10
        assert len(split.train) + sum(1 + (t.id in ("t-0", "t-1", "t-2")) for t in split.heldout) == len(pool)


def test_content_hash_ignores_id_meta_and_folder_but_not_the_answer():
    t = tasks(1)[0]
    assert content_hash(t) == content_hash(t.model_copy(update={"id": "x", "meta": {"a": 1}}))
    assert content_hash(t) == content_hash(t.model_copy(update={"data": {**t.data, "env_dir": "envs/a"}}))
    assert content_hash(t) != content_hash(t.model_copy(update={"data": {"answer": 7}}))


def test_split_that_leaves_nothing_to_train_on_is_refused():
    with pytest.raises(ValueError, match=r"^num_heldout=5 leaves nothing to train on: the pool has 5 distinct task\(s\)"
                                         r" \(5 in all\)$"):
        split_heldout(tasks(5), 5)


def test_guard_names_the_overlap_by_id_and_by_content_and_the_set():
    train = tasks(10)
    held = tasks(3, start=8) + [train[2].model_copy(update={"id": "new-2"})]
    with pytest.raises(HeldoutOverlapError) as e:
        check_disjoint(train, held, demo_tasks=[held[-1].model_copy(update={"id": "demo-9"})], env="arith")
    assert re.fullmatch(r"env 'arith': held-out set overlaps the training set: 2 task\(s\) by id \(t-8, t-9\), 1 by "
                        r"content \(new-2 ~ t-2\); held-out set overlaps the demonstration set: 1 by content "
                        r"\(new-2 ~ demo-9\)", str(e.value))
    check_disjoint(train, tasks(3, start=10))  # disjoint: no error
