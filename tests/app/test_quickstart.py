"""The quickstart job end to end at toy sizes: SmolLM2 loads, splits, evaluates three rows, SFTs, trains, reports."""

from __future__ import annotations

import json

import pytest

from agentgym.api import Task
from agentgym.app.quickstart import QuickstartConfig, run_quickstart, split_tasks
from agentgym.heldout import HeldoutOverlapError, content_hash
from agentgym.registry import make


def test_split_is_disjoint_and_demos_come_from_the_training_side():
    q = QuickstartConfig(pool_size=40, num_heldout=16, num_demos=4)
    train, heldout, demos, how = split_tasks(q, lambda name: make(name, **q.envs[name]))
    for name in q.envs:
        assert len(heldout[name]) == 16 and len(demos[name]) == 4
        held = {content_hash(t) for t in heldout[name]} | {t.id for t in heldout[name]}
        assert not held & ({content_hash(t) for t in train[name]} | {t.id for t in train[name]})
        assert all(d in train[name] for d in demos[name])
        assert "split_heldout(seed=0)" in how[name]


def test_split_refuses_a_pool_whose_demos_overlap_the_heldout_set(monkeypatch):
    import agentgym.heldout as heldout_module

    real = heldout_module.split_heldout

    def leaky(tasks, num_heldout, *, seed=0):
        split = real(tasks, num_heldout, seed=seed)
        split.train.insert(0, split.heldout[0])  # a demonstration that is also held out
        return split

    monkeypatch.setattr(heldout_module, "split_heldout", leaky)
    q = QuickstartConfig(pool_size=40, num_heldout=16, num_demos=4)
    with pytest.raises(HeldoutOverlapError, match="overlaps"):
        split_tasks(q, lambda name: make(name, **q.envs[name]))


def test_arith_demonstrations_are_multi_turn_calculator_then_submit():
    env = make("arith", difficulty=2, max_turns=3)
    tasks = env.sample_tasks(2, seed=5)
    from agentgym.rl.demos import reference_demonstrations  # what the quickstart's cold start trains on

    examples = reference_demonstrations(lambda: make("arith", difficulty=2, max_turns=3), tasks, _ChatTokenizer(),
                                        max_turns=3)
    assert len(examples) == 2
    for e in examples:  # two trained assistant spans (the calculator call, the submit), untrained tool output between
        flags = "".join(map(str, e.trained))
        assert flags.count("01") == 2 and "calculator" in _ChatTokenizer.text(e) and "submit" in _ChatTokenizer.text(e)


class _ChatTokenizer:
    """A character tokenizer with a ChatML-like template (growing prefixes), enough for `sft_example`."""

    def encode(self, text):
        return [ord(c) for c in text]

    @staticmethod
    def text(example):
        return "".join(chr(t) for t in example.tokens)

    def render_chat(self, chat, tools=None, *, add_generation_prompt=False):
        body = "".join(f"<|{m['role']}|>{m.get('content') or ''}<|end|>" for m in chat)
        return body + ("<|assistant|>" if add_generation_prompt else "")


@pytest.mark.slow
def test_quickstart_pipeline_writes_three_rows_curve_and_scores(tmp_path):
    config = QuickstartConfig(out_dir=str(tmp_path), pool_size=12, num_heldout=3, num_demos=2, sft_steps=1,
                              sft_batch=2, steps=1, groups_per_step=1, group_size=2, max_new_tokens=8, max_turns=2,
                              trainable_layers=1, progress=False)
    result = run_quickstart(config)
    assert set(result.scores) == {"base", "sft", "grpo"}
    assert all(len(result.scores[row]["arith"]) == 3 for row in result.scores)
    report = result.report.read_text()
    assert report.startswith("# agentgym quickstart") and "| **all** |" in report and "GRPO − SFT-only" in report
    assert "env's own reward" in report and "Peak RSS" in report
    assert (tmp_path / "reward_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved["scores"] == result.scores and saved["peak_rss_mib"] > 0
    held = {t.id for t in result.heldout["arith"]}
    trained = {Task.model_validate_json(line).id for line in (tmp_path / "tasks" / "arith.train.jsonl").open()}
    assert held and not held & trained
    for row in ("base", "sft", "grpo"):
        assert (tmp_path / f"eval_{row}.jsonl").is_file()
    assert set(result.seconds) == {"load", "eval_base", "sft", "eval_sft", "grpo", "eval_grpo"}
    with pytest.raises(ValueError, match="group_size"):
        QuickstartConfig(group_size=1)
