"""Per-env metrics from a list of trajectories: pass@k, pass^k, reward CI, turns, tokens, error rates.

An episode passes when its verdict says `passed`. Episodes that ended in an `env_error` count as failures (so every
task keeps its n samples and pass@k stays defined) and are also counted apart, so a reader can tell a broken env from
a weak policy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from agentgym.api import Trajectory
from agentgym import passk
from agentgym.eval.stats import CI_METHOD, bootstrap_mean_ci

TOKENS_FROM_POLICY = "tokens reported by the policy"
TOKENS_FROM_TURNS = "tokens in the turn records"
TOKENS_FROM_CHARACTERS = "characters (no token counts recorded)"


@dataclass(kw_only=True, slots=True)
class EnvMetrics:
    """Everything the report shows for one env.

    Attributes:
        env: the env name as given to `eval` (the trajectory file's stem).
        num_tasks, num_episodes: distinct tasks and total episodes; `num_samples` is the smallest n over tasks.
        pass_at_k, pass_hat_k: {k: mean over tasks} for k = 1 … num_samples.
        mean_reward, reward_ci_low, reward_ci_high: mean episode reward (tasks weighted equally) and its CI.
        mean_turns: assistant turns per episode.
        mean_prompt_tokens, mean_completion_tokens: per episode, in `token_unit`.
        tool_error_rate: agent turns answered with a `model_error` / all agent turns.
        num_env_errors: episodes that ended in an `env_error` (infrastructure failures).
        num_truncated: episodes cut short (turn budget).
        wall_time_s: how long the env's batch ran, when known.
    """

    env: str
    num_tasks: int
    num_samples: int
    num_episodes: int
    pass_at_k: dict[int, float]
    pass_hat_k: dict[int, float]
    mean_reward: float
    reward_ci_low: float
    reward_ci_high: float
    mean_turns: float
    mean_prompt_tokens: float
    mean_completion_tokens: float
    token_unit: str
    tool_error_rate: float
    num_env_errors: int
    num_truncated: int
    wall_time_s: float | None = None
    ci_method: str = CI_METHOD
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["pass_at_k"] = {str(k): v for k, v in self.pass_at_k.items()}
        out["pass_hat_k"] = {str(k): v for k, v in self.pass_hat_k.items()}
        return out


def is_passed(trajectory: Trajectory) -> bool:
    return trajectory.verdict is not None and trajectory.verdict.passed and trajectory.error != "env_error"


def group_by_task(trajectories: Sequence[Trajectory]) -> dict[str, list[Trajectory]]:
    """Trajectories per task id, in first-seen order."""
    groups: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajectories:
        groups[t.task_id].append(t)
    return dict(groups)


def per_task_scores(trajectories: Sequence[Trajectory]) -> dict[str, tuple[float, float]]:
    """{task id: (mean reward, pass rate)}: the unit the bootstrap resamples."""
    return {
        task_id: (sum(t.reward for t in group) / len(group), sum(map(is_passed, group)) / len(group))
        for task_id, group in group_by_task(trajectories).items()
    }


def count_tokens(trajectory: Trajectory) -> tuple[int, int, str]:
    """(prompt, completion, unit) for one episode, from the best record available.

    Policy-reported counts (`Trajectory.num_*_tokens`, summed by the agent loop), else the token ids of the turn records (the
    embedded engine), else characters: the assistant's own text as "completion", and as "prompt" the text the
    assistant had in front of it at each of its turns (what a token count of the prompt would measure).
    """
    if trajectory.num_prompt_tokens or trajectory.num_completion_tokens:
        return trajectory.num_prompt_tokens, trajectory.num_completion_tokens, TOKENS_FROM_POLICY
    if any(turn.completion_ids for turn in trajectory.turns):
        prompt = sum(len(turn.prompt_ids or []) for turn in trajectory.turns)
        completion = sum(len(turn.completion_ids or []) for turn in trajectory.turns)
        return prompt, completion, TOKENS_FROM_TURNS
    prompt = completion = context = 0
    for message in trajectory.messages:
        size = len(message.content) + len(message.reasoning or "")
        size += sum(len(c.name) + len(c.arguments_json()) for c in message.tool_calls)
        if message.role == "assistant":
            prompt += context
            completion += size
        context += size
    return prompt, completion, TOKENS_FROM_CHARACTERS


def summarize(env: str, trajectories: Sequence[Trajectory], *, wall_time_s: float | None = None,
              seed: int = 0) -> EnvMetrics:
    """The metrics of one env's episodes. Raises ValueError when there are none."""
    if not trajectories:
        raise ValueError(f"env {env!r}: no trajectories to summarize")
    groups = group_by_task(trajectories)
    counts = [(len(g), sum(map(is_passed, g))) for g in groups.values()]
    rewards = bootstrap_mean_ci([score for score, _ in per_task_scores(trajectories).values()], seed=seed)
    tokens = [count_tokens(t) for t in trajectories]
    units = {unit for _, _, unit in tokens}
    num_turns = sum(t.num_turns for t in trajectories)
    failures = [f"{t.task_id}: {t.info.get('failure', 'env_error')}" for t in trajectories if t.error == "env_error"]
    return EnvMetrics(
        env=env,
        num_tasks=len(groups),
        num_samples=min(n for n, _ in counts),
        num_episodes=len(trajectories),
        pass_at_k=passk.curve(counts),
        pass_hat_k=passk.curve(counts, all_k=True),
        mean_reward=rewards.mean,
        reward_ci_low=rewards.low,
        reward_ci_high=rewards.high,
        mean_turns=num_turns / len(trajectories),
        mean_prompt_tokens=sum(p for p, _, _ in tokens) / len(tokens),
        mean_completion_tokens=sum(c for _, c, _ in tokens) / len(tokens),
        token_unit=units.pop() if len(units) == 1 else "mixed: " + ", ".join(sorted(units)),
        tool_error_rate=sum(t.num_tool_errors for t in trajectories) / max(1, num_turns),
        num_env_errors=len(failures),
        num_truncated=sum(1 for t in trajectories if t.truncated),
        wall_time_s=wall_time_s,
        failures=failures[:5],
    )
