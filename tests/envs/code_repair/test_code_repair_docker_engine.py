"""code_repair on a real Docker engine: tasks synthesized from a pinned PyPI project, played in its per-repo image.

Two tasks from `DEFAULT_PROJECTS[0]` (isodate==0.7.2; sdist and venv cached under $AGENTGYM_CACHE after the first
run) get the same rewards under `LocalSandbox` and `DockerSandbox`: the gold patch scores 1, an untouched repository
0. A destructive episode is contained and the next episode starts clean. Skipped, with the reason, when no engine
answers (CI starts one with `scripts/docker_engine.sh`).
"""

from __future__ import annotations

import pytest
from docker_support import docker_base_image, docker_client  # noqa: F401 - fixtures

from agentgym.api import Action, ToolCall
from agentgym.envs.code_repair import CodeRepairEnv
from agentgym.envs.code_repair.snapshot import tree_sha256
from agentgym.envs.code_repair.taskdata import expand_path
from agentgym.synth.code import SynthConfig
from agentgym.synth.code.pipeline import synthesize
from agentgym.synth.code.projects import DEFAULT_PROJECTS
from agentgym.synth.code.source import SourceError
from agentgym.taskio import load_tasks

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def project_tasks(tmp_path_factory, docker_base_image):  # noqa: F811 - the fixture imported above
    out = tmp_path_factory.mktemp("synth") / "tasks.jsonl"
    try:
        synthesize(SynthConfig(project=DEFAULT_PROJECTS[0], out=out, n=2, seed=0, num_workers=1))
    except SourceError as e:  # no PyPI here and nothing cached
        pytest.skip(f"cannot fetch {DEFAULT_PROJECTS[0].label}: {e}")
    tasks = load_tasks(out)
    assert len(tasks) == 2 and all(t.data["venv"] for t in tasks)
    return tasks


def call(name: str, **arguments) -> ToolCall:
    return ToolCall(id=name, name=name, arguments=arguments)


async def gold_and_untouched(env: CodeRepairEnv, tasks) -> list[tuple[float, float]]:
    rewards = []
    for task in tasks:
        await env.reset(task, seed=0)
        gold = await env.step(env.reference_action(task))
        await env.reset(task, seed=0)
        untouched = await env.step(Action(tool_calls=[call("submit")]))
        rewards.append((gold.reward, untouched.reward))
    return rewards


async def test_synthesized_tasks_score_the_same_on_docker_and_local(project_tasks, docker_client,  # noqa: F811
                                                                    docker_base_image):  # noqa: F811 # fmt: skip
    local = CodeRepairEnv(backend="local", bash_timeout_s=60)
    docker = CodeRepairEnv(backend="docker", docker_client=docker_client, base_image=docker_base_image,
                           bash_timeout_s=60)  # fmt: skip
    try:
        local_rewards = await gold_and_untouched(local, project_tasks)
        docker_rewards = await gold_and_untouched(docker, project_tasks)
    finally:
        await local.close()
        await docker.close()
    assert docker_rewards == local_rewards == [(1.0, 0.0)] * len(project_tasks)
    (tag,) = docker.images.values()  # one image for the repository and its venv, reused by every episode
    assert tag.startswith("agentgym-code-repair/isodate-0.7.2:")
    image = docker_client.images.get(tag)
    assert image.labels["agentgym.code_repair.repo_sha256"] == project_tasks[0].data["repo_sha256"]


async def test_destructive_episode_is_contained_and_the_next_one_is_clean(project_tasks, docker_client,  # noqa: F811
                                                                          docker_base_image):  # noqa: F811 # fmt: skip
    task = project_tasks[0]
    snapshot = expand_path(task.data["repo"])
    before = tree_sha256(snapshot)
    env = CodeRepairEnv(backend="docker", docker_client=docker_client, base_image=docker_base_image,
                        bash_timeout_s=20)  # fmt: skip
    wreck = "rm -rf ./* ./.[!.]* /repo /usr/lib/python3 2>/dev/null; touch /etc/pwned; ls -A | wc -l"
    try:
        await env.reset(task, seed=0)
        wrecked = await env.step(Action(tool_calls=[call("bash", cmd=wreck), call("bash", cmd="kill -9 -1"),
                                                    call("submit")]))  # fmt: skip
        await env.reset(task, seed=0)
        listing = await env.step(Action(tool_calls=[call("list_dir", path=".")]))
        gold = await env.step(env.reference_action(task))
    finally:
        await env.close()
    wrecked_out, killed_out = (m.content for m in wrecked.observation.messages[:2])
    assert wrecked_out.splitlines()[:2] == ["exited with code 0", "0"]  # the working copy was gone, nothing else
    assert "touch: cannot touch '/etc/pwned': Read-only file system" in wrecked_out
    assert killed_out.startswith("killed by signal 9") and wrecked.reward == 0.0
    assert {"PKG-INFO", "src/", "tests/"} <= set(listing.observation.messages[0].content.splitlines()[1:])
    assert gold.reward == 1.0
    assert tree_sha256(snapshot) == before  # the host's snapshot was never reachable
    assert docker_client.containers.list(all=True, filters={"label": "agentgym.sandbox"}) == []
