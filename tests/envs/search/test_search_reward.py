"""The verifier: SQuAD normalization, exact match as the reward, F1 beside it, several accepted answers."""

from __future__ import annotations

import pytest

from agentgym.envs.search.reward import (
    exact_match,
    f1_score,
    normalize_answer,
    score_answer,
)


@pytest.mark.parametrize(("raw", "normalized"), [
    ("The  JSON-module!", "jsonmodule"),
    ("  An apple, a day ", "apple day"),
    ("`json.dumps`", "jsondumps"),
    ("Theory", "theory"),
])
def test_normalize_answer(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_exact_match_and_f1():
    assert exact_match("The json module.", "json module") == 1.0
    assert exact_match("json", "json module") == 0.0
    assert f1_score("json", "json module") == pytest.approx(2 / 3)
    assert f1_score("pickle", "json module") == 0.0
    assert f1_score("", "") == 1.0 and f1_score("", "x") == 0.0


def test_score_answer_takes_the_best_accepted_answer_and_reports_f1():
    verdict = score_answer("imaplib.Int2AP", ["Int2AP", "imaplib.Int2AP"])
    assert verdict.reward == 1.0 and verdict.passed
    assert verdict.components == {"exact_match": 1.0, "f1": 1.0}
    wrong = score_answer("the json thing", ["json"])
    assert wrong.reward == 0.0 and not wrong.passed
    assert wrong.components["f1"] == pytest.approx(2 / 3)
    assert any("F1" in r for r in wrong.reasons) and "no exact match" in wrong.reasons[0]
    with pytest.raises(ValueError, match="accepted"):
        score_answer("x", [])
