"""What the policy did in one step's rollouts, so collapse is visible: diversity within groups, tool use, length.

Computed over every group the step played (flat groups that dynamic filtering drops included: a collapsed policy's
groups are exactly the flat ones), before truncation handling changes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agentgym.api import Message, Trajectory
from agentgym.tools import parse_tool_calls


def has_tool_call(message: Message) -> bool:
    """The assistant message made at least one parseable tool call (pre-parsed, or Hermes/DeepSeek in its text)."""
    return bool(message.tool_calls) or bool(parse_tool_calls(message.content, "auto").calls)


def _transcript(trajectory: Trajectory) -> tuple[str, ...]:
    return tuple(m.content for m in trajectory.messages if m.role == "assistant")


@dataclass(slots=True)
class RolloutStats:
    """Running sums over the groups of one step; `metrics()` gives the per-step values.

    - distinct_first_replies: mean over groups of (distinct first assistant replies) / (group size). 1.0 when every
      episode of a group opened differently, 1/G when all G said the same thing (collapse).
    - distinct_transcripts: the same over whole assistant transcripts (every reply of the episode, in order).
    - tool_call_rate: assistant turns with a parseable tool call / all assistant turns.
    - episode_turns: mean assistant turns per episode.
    """

    distinct_first: list[float] = field(default_factory=list)
    distinct_full: list[float] = field(default_factory=list)
    num_turns: int = 0
    num_tool_turns: int = 0
    num_episodes: int = 0

    def add_group(self, trajectories: Sequence[Trajectory]) -> None:
        if not trajectories:
            return
        transcripts = [_transcript(t) for t in trajectories]
        self.distinct_first.append(len({t[0] if t else "" for t in transcripts}) / len(transcripts))
        self.distinct_full.append(len(set(transcripts)) / len(transcripts))
        for t in trajectories:
            replies = [m for m in t.messages if m.role == "assistant"]
            self.num_turns += len(replies)
            self.num_tool_turns += sum(has_tool_call(m) for m in replies)
        self.num_episodes += len(trajectories)

    def metrics(self) -> dict[str, float]:
        """The per-step values ({} when no group was played)."""
        if not self.distinct_first:
            return {}
        return {"distinct_first_replies": sum(self.distinct_first) / len(self.distinct_first),
                "distinct_transcripts": sum(self.distinct_full) / len(self.distinct_full),
                "tool_call_rate": self.num_tool_turns / max(1, self.num_turns),
                "episode_turns": self.num_turns / max(1, self.num_episodes)}
