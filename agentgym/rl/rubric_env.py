"""`RubricRewardEnv`: an env wrapper that mixes a rubric judge's score into the reward of each finished episode.

This is the hook of rubric rewards into training: `agentgym.rl.build.default_env_factory` wraps an env of the mix
when its entry sets ``reward: {rubric: w > 0, judge: "openai:..."}``, so the trainer, the collector and the held-out
evaluation see the mixed reward as the env's own (no change to the reward path after the env). A task without a
rubric keeps its verifier reward unchanged. The verdict's components record ``verifier`` and ``rubric``; a judge
error is labelled in the verdict's reasons, its components (``judge_error``: 1) and `StepResult.info`, and the reward
is then the verifier part alone, never a silent 0.

Group mode (relative judging for GRPO): episodes of the same task wait for each other (up to `group_size`, or
`group_wait_s` seconds) and are ranked in one judge call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentgym.rl.rubric import JudgeError, RubricJudge, mix

from agentgym.api import Action, Env, Message, Observation, StepResult, Task, Trajectory


class GroupGate:
    """Collects the finished episodes of one task and ranks them together (one judge call per group)."""

    def __init__(self, judge: RubricJudge, *, group_size: int, wait_s: float) -> None:
        self.judge, self.group_size, self.wait_s = judge, group_size, wait_s
        self._pending: dict[str, dict[str, Any]] = {}

    async def score(self, task: Task, trajectory: Trajectory) -> float:
        entry = self._pending.setdefault(task.id, {"items": [], "done": asyncio.get_running_loop().create_future()})
        index = len(entry["items"])
        entry["items"].append(trajectory)
        if len(entry["items"]) >= self.group_size:
            await self._rank(task, entry)
        else:
            try:
                await asyncio.wait_for(asyncio.shield(entry["done"]), self.wait_s)
            except asyncio.TimeoutError:
                await self._rank(task, entry)
        return entry["done"].result()[index]  # raises the group's JudgeError

    async def _rank(self, task: Task, entry: dict[str, Any]) -> None:
        if self._pending.get(task.id) is entry:
            del self._pending[task.id]
        if entry["done"].done():
            return
        try:
            entry["done"].set_result(await self.judge.rank(task, list(entry["items"])))
        except JudgeError as e:
            entry["done"].set_exception(e)
            entry["done"].exception()  # retrieved here, so an unawaited copy never warns


class RubricRewardEnv:
    """Wraps `env`; every other attribute (sample_tasks, reference_action, ...) is the wrapped env's.

    Args:
        env: the env whose verdicts get the rubric mixed in.
        judge: the rubric judge.
        verifier_weight, rubric_weight: reward = verifier_weight · verdict reward + rubric_weight · rubric score.
        gate: group mode's shared gate (None: pointwise judging).
    """

    def __init__(self, env: Env, judge: RubricJudge, *, verifier_weight: float, rubric_weight: float,
                 gate: GroupGate | None = None) -> None:  # fmt: skip
        self.env, self.judge, self.gate = env, judge, gate
        self.verifier_weight, self.rubric_weight = verifier_weight, rubric_weight
        self._task: Task | None = None
        self._seed: int | None = None
        self._messages: list[Message] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)

    @property
    def name(self) -> str:
        return self.env.name

    def tools(self) -> list[Any]:
        return self.env.tools()

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        observation = await self.env.reset(task, seed=seed)
        self._task, self._seed, self._messages = task, seed, list(observation.messages)
        return observation

    async def step(self, action: Action) -> StepResult:
        result = await self.env.step(action)
        self._messages.append(Message(role="assistant", content=action.text, tool_calls=action.tool_calls))
        self._messages.extend(result.observation.messages)
        task = self._task
        if result.verdict is None or task is None or not task.data.get("rubric"):
            return result
        trajectory = Trajectory(task_id=task.id, env=self.env.name, seed=self._seed, messages=list(self._messages))
        verdict = result.verdict
        try:
            score = await (self.gate.score(task, trajectory) if self.gate else self.judge.score(task, trajectory))
        except JudgeError as e:
            reward, components = mix(verdict.reward, None, verifier_weight=self.verifier_weight, rubric_weight=0.0)
            verdict = verdict.model_copy(update={
                "reward": reward, "reasons": [*verdict.reasons, f"judge_error: {e}"],
                "components": {**verdict.components, **components, "judge_error": 1.0}})  # fmt: skip
            return result.model_copy(update={"verdict": verdict, "reward": reward,
                                             "info": {**result.info, "judge_error": str(e)}})  # fmt: skip
        reward, components = mix(verdict.reward, score, verifier_weight=self.verifier_weight,
                                 rubric_weight=self.rubric_weight)  # fmt: skip
        verdict = verdict.model_copy(update={
            "reward": reward, "reasons": [*verdict.reasons, f"rubric score {score:.3f}"],
            "components": {**verdict.components, **components}})  # fmt: skip
        return result.model_copy(update={"verdict": verdict, "reward": reward})

    async def close(self) -> None:
        await self.env.close()

    async def __aenter__(self) -> RubricRewardEnv:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def rubric_env_factory(make_env: Any, mixes: dict[str, Any], *, group_size: int) -> Any:
    """Wrap `make_env` (name -> env) so the envs named in `mixes` (name -> `RewardMix` with rubric > 0) get rubric
    rewards. One judge per judge spec and one group gate per env are shared by every env instance the factory makes."""
    from agentgym.rollout.specs import make_policy

    judges: dict[str, RubricJudge] = {}
    gates: dict[str, GroupGate] = {}

    def make(name: str) -> Any:
        env = make_env(name)
        reward = mixes.get(name)
        if reward is None:
            return env
        if reward.judge not in judges:
            judges[reward.judge] = RubricJudge(make_policy(reward.judge), max_concurrency=reward.max_concurrency)
        judge = judges[reward.judge]
        gate = None
        if reward.mode == "group":
            gate = gates.setdefault(name, GroupGate(judge, group_size=reward.group_size or group_size,
                                                    wait_s=reward.group_wait_s))
        return RubricRewardEnv(env, judge, verifier_weight=reward.verifier, rubric_weight=reward.rubric, gate=gate)

    return make
