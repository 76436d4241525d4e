"""The vLLM rollout backend against a fake vLLM server: token ids + logprobs in the turns, weight sync after updates."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
import torch
from agentgym.model.checkpoint import to_hf_state_dict
from fake_vllm import FakeVLLMServer, completion_choice
from safetensors import safe_open
from safetensors.torch import load_file
from typer.testing import CliRunner

from agentgym.app.cli import app
from agentgym.errors import DependencyNotInstalled
from agentgym.envs.echo_letter import EchoLetterEnv
from agentgym.model.char_tokenizer import CharTokenizer
from agentgym.rl.trainer import GRPOTrainer
from agentgym.rollout import RolloutConfig, run_episodes
from agentgym.rollout.engine_policy import EnginePolicyConfig
from agentgym.rollout.vllm_policy import VLLMOfflinePolicy, VLLMServerPolicy


def _play(policy, tasks, num_samples=2):
    config = RolloutConfig(num_samples=num_samples, max_turns=1, seed=5, same_seed_per_task=True, progress=False)
    return asyncio.run(run_episodes(lambda: EchoLetterEnv(), policy, tasks, config))


def test_server_policy_sends_token_ids_and_records_ids_logprobs_and_experts():
    tokenizer = CharTokenizer()
    tasks = EchoLetterEnv().sample_tasks(3, seed=1)
    with FakeVLLMServer() as server:
        policy = VLLMServerPolicy(tokenizer, base_url=server.base_url, model="tiny", request_routed_experts=True,
                                  config=EnginePolicyConfig(max_new_tokens=2, temperature=0.7, top_k=5, seed=3))
        trajectories = _play(policy, tasks)
    completions = [r["body"] for r in server.requests if r["path"] == "/v1/completions"]
    assert len(completions) == 3  # one request per distinct prompt, the group's copies as n
    by_prompt = {tuple(b["prompt"]): b for b in completions}
    for b in completions:
        assert b["n"] == 2 and b["logprobs"] == 1 and b["max_tokens"] == 2 and b["top_k"] == 5
        assert b["return_token_ids"] and b["return_tokens_as_token_ids"] and b["return_routed_experts"]
        assert b["stop_token_ids"] == [tokenizer.eos_id] and b["model"] == "tiny" and b["temperature"] == 0.7
    assert len({b["seed"] for b in completions}) == 3
    for t, task in zip(trajectories, [x for x in tasks for _ in range(2)]):
        (turn,) = t.turns
        prompt = tokenizer.encode_chat([{"role": "user", "content": task.prompt}])
        assert turn.prompt_ids == prompt
        body = by_prompt[tuple(prompt)]
        j = int(t.info["episode"].split("#")[1])
        from fake_vllm import echo_choices

        expected = echo_choices(body)[j]
        assert turn.completion_ids == expected["token_ids"]
        assert turn.logprobs == expected["logprobs"]["token_logprobs"]
        assert len(turn.routed_experts) == len(prompt) + len(turn.completion_ids) - 1
        assert turn.routed_experts == expected["routed_experts"][: len(turn.routed_experts)]
        assert t.reward == float(tokenizer.decode(turn.completion_ids, skip_special_tokens=True) == task.prompt)


def test_server_policy_reads_token_ids_from_tokens_when_return_token_ids_is_absent():
    def old_server(body):
        return [completion_choice(j, [5, 2], [-0.25, -0.5], with_ids=False) for j in range(body["n"])]

    with FakeVLLMServer(old_server) as server:
        policy = VLLMServerPolicy(CharTokenizer(), base_url=server.base_url, model="m")
        (t,) = _play(policy, EchoLetterEnv().sample_tasks(1, seed=0), num_samples=1)
    assert t.turns[0].completion_ids == [5, 2] and t.turns[0].logprobs == [-0.25, -0.5]
    assert t.turns[0].routed_experts is None


def test_server_without_logprobs_is_an_env_error_naming_the_cause():
    def no_logprobs(body):
        return [{"index": 0, "text": "a", "token_ids": [3, 2], "logprobs": None}]

    with FakeVLLMServer(no_logprobs) as server:
        policy = VLLMServerPolicy(CharTokenizer(), base_url=server.base_url, model="m")
        (t,) = _play(policy, EchoLetterEnv().sample_tasks(1, seed=0), num_samples=1)
    assert t.error == "env_error" and "no per-token logprobs" in t.info["failure"]


@pytest.mark.slow
def test_trainer_with_vllm_backend_syncs_weights_after_each_update(tmp_path, make_toy_config):
    torch.set_num_threads(2)
    weights_dir = tmp_path / "weights"
    seen: list[tuple[str, str, dict]] = []

    def on_reload(body):  # read the file the server is told to load, at that moment
        path = body.get("kwargs", {}).get("weights_path") or body.get("weights_path")
        with safe_open(f"{path}/model.safetensors", framework="pt") as f:
            version = f.metadata()["agentgym_policy_version"]
        seen.append((path, version, load_file(f"{path}/model.safetensors")))

    with FakeVLLMServer(on_reload=on_reload) as server:
        config = make_toy_config(str(tmp_path / "run"), steps=2, groups_per_step=2, group_size=4,
                                 rollout={"backend": "vllm", "vllm": {"base_url": server.base_url, "model": "tiny",
                                                                      "weights_dir": str(weights_dir)}})
        trainer = GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
        before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
        records = trainer.train()
    assert type(trainer.policy).__name__ == "VLLMServerPolicy"
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records) and records[0]["num_groups"] > 0
    paths = server.paths()
    syncs = [i for i, p in enumerate(paths) if p == "/collective_rpc"]
    assert len(syncs) == 2  # one per step, after its update
    for i in syncs:
        assert paths[i + 1] == "/reset_prefix_cache"
        assert server.requests[i]["body"]["method"] == "reload_weights"
    assert paths[0] == "/v1/completions" and "/v1/completions" in paths[syncs[0] + 2:syncs[1]]
    assert [v for _, v, _ in seen] == ["1", "2"] and all(p == str(weights_dir.resolve()) for p, _, _ in seen)
    final = to_hf_state_dict(trainer.model.state_dict(), trainer.model.cfg)
    assert seen[-1][2].keys() == final.keys()
    assert all(torch.equal(seen[-1][2][k], final[k]) for k in final)
    first = to_hf_state_dict(before, trainer.model.cfg)
    assert any(not torch.equal(seen[0][2][k], first[k]) for k in first)  # step 0's update changed the weights
    assert not any(p.name.startswith(".") for p in weights_dir.iterdir())  # no partial file left behind


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="checks the message when vllm is absent")
def test_offline_mode_without_vllm_says_how_to_install(tmp_path, make_toy_config):
    with pytest.raises(DependencyNotInstalled, match=r"pip install 'agentgym-rl\[vllm\]' \(GPU only"):
        VLLMOfflinePolicy(CharTokenizer(), model="m")
    config = make_toy_config(str(tmp_path), rollout={"backend": "vllm", "vllm": {"mode": "offline", "model": "m"}})
    with pytest.raises(DependencyNotInstalled, match="GPU only"):
        GRPOTrainer(config, make_env=lambda name: EchoLetterEnv())
    config_file = tmp_path / "train.yaml"
    config_file.write_text("envs: [{name: arith}]\nrollout: {backend: vllm, vllm: {mode: offline, model: m}}\n")
    result = CliRunner().invoke(app, ["train", str(config_file)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "pip install 'agentgym-rl[vllm]' (GPU only" in " ".join(result.output.split())


def test_cli_names_a_missing_served_model(tmp_path):
    config_file = tmp_path / "train.yaml"
    config_file.write_text("envs: [{name: arith}]\nrollout: {backend: vllm}\n")
    result = CliRunner().invoke(app, ["train", str(config_file)])
    assert result.exit_code == 2 and "rollout.vllm.model" in result.output and "Traceback" not in result.output


def test_scaling_doc_configs_validate():
    import re
    from pathlib import Path

    import yaml

    from agentgym.rl.config import parse_config

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scaling.md").read_text(encoding="utf-8")
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", doc, flags=re.DOTALL)]
    assert len(blocks) == 3
    full = parse_config(blocks[0])
    assert full.rollout.backend == "vllm" and full.rollout.vllm.weights_dir == "/shared/policy"
    ray_config = parse_config({"envs": [{"name": "arith"}], **blocks[1]})
    assert ray_config.rollout.ray.num_env_workers == 4
    hf_folder = parse_config(blocks[2])  # the HF-folder + LoRA example
    assert hf_folder.model.pretrained.startswith("/models/") and hf_folder.model.lora.r == 16
