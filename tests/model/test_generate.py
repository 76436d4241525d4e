"""The functions behind `agentgym model info` and `agentgym generate`."""

from __future__ import annotations

import pytest
from agentgym.model.generate import stream_text
from agentgym.model.info import list_models, model_info


def test_model_info_smollm2_and_deepseek():
    info = model_info("smollm2-135m")
    assert info["total_params"] == info["active_params"] == 134_515_008
    assert info["cache_bytes_per_token_fp32"] == 46_080
    v3 = model_info("deepseek-v3")
    assert round(v3["total_params"] / 1e9) == 671 and v3["active_params"] < v3["total_params"] / 10
    assert v3["cache_bytes_per_token_naive_fp32"] > 70 * v3["cache_bytes_per_token_fp32"]
    assert "tiny" in list_models()
    with pytest.raises(ValueError, match="known"):
        model_info("gpt-5")


class _FakeTokenizer:
    stop_ids = (2,)
    table = ((10, "a"), (11, "\xe2"), (12, "b"))

    def decode(self, ids):
        text = "".join(dict(self.table)[i] for i in ids)
        return text.replace("\xe2", "\ufffd") if ids and ids[-1] == 11 else text.replace("\xe2", "é")


def test_stream_text_holds_back_partial_characters_and_stops_at_eos():
    pieces = list(stream_text(iter([10, 11, 12, 2, 10]), _FakeTokenizer()))
    assert pieces == ["a", "éb"]


@pytest.mark.slow
def test_generate_stream_yields_text_from_smollm2():
    from agentgym.model.generate import generate_stream

    text = "".join(generate_stream("What is the capital of France?", temperature=0.0, max_new_tokens=8))
    assert "Paris" in text
