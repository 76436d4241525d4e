"""The RPT verifier: box extraction and the prefix-on-a-token-boundary reward, edge case by edge case."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentgym.envs.rpt.verify import BoxedAnswer, extract_boxed, score_prediction

# "fox jumps over" as word pieces whose leading space moved into the prefix: "fox" | " jumps" | " over".
FOX = ("fox jumps over", [3, 9, 14])


def reward(prediction: str, continuation: str = FOX[0], ends: list[int] = FOX[1], num_tokens: int = 1) -> float:
    return score_prediction(prediction, continuation, ends, num_tokens).reward


# --- extract_boxed ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("I think \\boxed{fox}", BoxedAnswer("fox", 1, False)),
    ("first \\boxed{cat}, on reflection \\boxed{dog}", BoxedAnswer("dog", 2, False)),  # the last box counts
    ("\\boxed{f(x){y}} done", BoxedAnswer("f(x){y}", 1, False)),  # nested braces stay in the answer
    ("\\boxed{{}}", BoxedAnswer("{}", 1, False)),
    ("empty \\boxed{}", BoxedAnswer("", 1, False)),
    ("\\boxed{ fox}", BoxedAnswer(" fox", 1, False)),  # content is verbatim: no stripping
    ("\\boxed {fox}", BoxedAnswer("fox", 1, False)),
    ("\\boxed{café ☕}", BoxedAnswer("café ☕", 1, False)),
    ("no box here", BoxedAnswer(None, 0, False)),
    ("\\boxed{fox", BoxedAnswer(None, 0, True)),
    ("\\boxed{a} then \\boxed{b{c}", BoxedAnswer("a", 1, True)),
    ("\\boxed", BoxedAnswer(None, 0, False)),
])
def test_extract_boxed(text, expected):
    assert extract_boxed(text) == expected


def test_extract_boxed_is_linear_on_many_boxes():
    text = "\\boxed{x} " * 20_000 + "\\boxed{last}"
    assert extract_boxed(text) == BoxedAnswer("last", 20_001, False)


# --- score_prediction ------------------------------------------------------------------------------------------------
def test_the_next_token_and_longer_token_aligned_prefixes_pass():
    assert reward("fox") == 1.0
    assert reward("fox jumps") == 1.0
    assert reward("fox jumps over") == 1.0


def test_a_prefix_ending_inside_a_token_fails():
    assert reward("fo") == 0.0
    assert reward("fox ") == 0.0  # the space belongs to the token " jumps"
    assert reward("fox jum") == 0.0
    assert "ends inside a token" in score_prediction("fo", *FOX).reasons[0]


def test_whitespace_is_compared_byte_for_byte():
    assert reward(" fox") == 0.0  # the leading space is in the prefix, not the continuation
    assert reward("fox\tjumps") == 0.0
    assert reward("Fox") == 0.0
    # A continuation that itself starts with a space token (" fox" | " jumps"): the space is part of the answer.
    assert reward(" fox", " fox jumps", [4, 10]) == 1.0
    assert reward("fox", " fox jumps", [4, 10]) == 0.0
    # A whitespace-run token: "end" | "." | "\n\n" | "Next".
    assert reward("end.\n\n", "end.\n\nNext", [3, 4, 6, 10]) == 1.0
    assert reward("end.\n", "end.\n\nNext", [3, 4, 6, 10]) == 0.0


def test_multi_token_tasks_need_enough_tokens():
    assert reward("fox", num_tokens=2) == 0.0
    assert "covers 1 tokens; the task asks for 2" in score_prediction("fox", *FOX, 2).reasons[0]
    assert reward("fox jumps", num_tokens=2) == 1.0
    assert reward("fox jumps over", num_tokens=2) == 1.0
    verdict = score_prediction("fox jumps over", *FOX, 2)
    assert verdict.components == {"accuracy": 1.0, "num_tokens": 3.0}


def test_empty_prediction_fails():
    verdict = score_prediction("", *FOX)
    assert verdict.reward == 0.0 and not verdict.passed
    assert verdict.reasons[0].startswith("empty prediction")


def test_a_prediction_longer_than_the_continuation_fails_even_if_it_starts_right():
    verdict = score_prediction("fox jumps over the", *FOX)
    assert verdict.reward == 0.0
    assert "longer than the 14-byte continuation" in verdict.reasons[0]


def test_a_wrong_prediction_names_the_first_differing_byte():
    verdict = score_prediction("fax", *FOX)
    assert verdict.reward == 0.0 and verdict.reasons == ["prediction 'fax' differs from the true continuation at byte 1"]


def test_unicode_is_measured_in_utf8_bytes():
    # "café" | " au" | " lait": é is two bytes, so the tokens end at bytes 5, 8 and 13.
    continuation, ends = "café au lait", [5, 8, 13]
    assert reward("café", continuation, ends) == 1.0
    assert reward("café au", continuation, ends) == 1.0
    assert reward("cafe", continuation, ends) == 0.0
    assert reward("caf", continuation, ends) == 0.0
    # Byte-level BPE can end a token inside a character (here after the first byte of é): no text ends there.
    assert reward("caf", continuation, [3, 4, 5, 8]) == 1.0
    assert reward("café", continuation, [3, 4, 8]) == 0.0


def test_lone_surrogates_never_match():
    assert reward("\ud800", "\ufffd rest", [3, 8]) == 0.0
    assert reward("?", "? rest", [1, 6]) == 1.0


def test_every_verdict_states_its_reason():
    for prediction in ["fox", "fo", "", "fax", "fox jumps over!"]:
        verdict = score_prediction(prediction, *FOX)
        assert len(verdict.reasons) == 1 and verdict.reasons[0]
        assert verdict.passed == (verdict.reward == 1.0)


# --- properties ------------------------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("\\boxed{} x\n日é")), max_size=40))
def test_extract_boxed_never_raises_and_returns_text_from_the_input(text):
    box = extract_boxed(text)
    assert box.num_boxes <= text.count("\\boxed")
    assert (box.answer is None) == (box.num_boxes == 0)
    if box.answer is not None:
        assert "\\boxed{" + box.answer + "}" in re.sub(r"\\boxed\s*\{", lambda m: "\\boxed{", text)


@settings(max_examples=300, deadline=None)
@given(prediction=st.text(max_size=20), continuation=st.text(min_size=1, max_size=20))
def test_a_passing_prediction_is_always_a_token_aligned_prefix(prediction, continuation):
    ends = sorted({len(continuation[:i].encode("utf-8")) for i in range(1, len(continuation) + 1, 2)}
                  | {len(continuation.encode("utf-8"))})
    verdict = score_prediction(prediction, continuation, ends)
    guess = prediction.encode("utf-8", errors="surrogatepass")
    expected = bool(guess) and continuation.encode("utf-8").startswith(guess) and len(guess) in ends
    assert verdict.passed == expected and verdict.reward == float(expected)
