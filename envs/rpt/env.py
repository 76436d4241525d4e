"""`rpt`: Reinforcement Pre-Training — read a text, reason, predict its next token(s) in ``\\boxed{}``."""

from __future__ import annotations

from pathlib import Path

from agentgym.api import Action, Message, Observation, StepResult, Task, ToolCall, Verdict
from agentgym.envs.rpt.tasks import SHIPPED_TASKS, read_tasks, sample_tasks
from agentgym.envs.rpt.verify import extract_boxed, score_prediction
from agentgym.toolenv import ToolEnv, tool
from agentgym.tools import ToolScript, parse_tool_calls, tool_call


class RptEnv(ToolEnv):
    """Next-token reasoning. The agent answers once, by plain text with a ``\\boxed{...}`` or by `submit(answer)`.

    A reply with a complete box ends the episode with the verdict on the LAST box's content. A reply that contains a
    tool call is handled as tool calls (boxes in it are ignored). A reply with neither, or whose last box is never
    closed, is a format mistake: it is answered with an observation and counts against `max_turns`.

    Reward 1 iff the prediction's bytes are a prefix of the true continuation ending on a reference token boundary
    (see `agentgym.envs.rpt.verify.score_prediction`).

    Args:
        max_turns: steps before the episode is truncated (format mistakes included).
        task_file: a JSONL task file for `sample_tasks` (default: the tasks shipped with the env).
        tool_format: how tool calls are parsed out of plain text ("auto", "hermes" or "deepseek").
    """

    name = "rpt"
    system_prompt = (
        "You predict how a text continues. Think about the text step by step, then end your reply with your "
        "prediction of the next token(s) inside \\boxed{...}, e.g. \\boxed{the}; only the last box counts. "
        "Write the exact characters that come next, with no quotes. You may instead call `submit` with that text."
    )

    def __init__(self, *, max_turns: int = 4, task_file: str | Path | None = None, tool_format: str = "auto") -> None:
        super().__init__(max_turns=max_turns, tool_format=tool_format)
        self.task_file = Path(task_file) if task_file is not None else SHIPPED_TASKS
        if task_file is not None:
            read_tasks(self.task_file)  # a bad file fails in make(), not at the first sample_tasks()

    @tool("Submit your prediction of the next token(s): the exact text that comes next, without \\boxed{}. "
          "This ends the episode.", answer={"type": "string", "description": "e.g. the"})
    async def submit(self, answer: str) -> Verdict:
        return self._judge(answer)

    async def step(self, action: Action) -> StepResult:
        """Tool calls (and API misuse) go through `ToolEnv.step`; a plain-text reply is judged by its last box."""
        if not self.is_running or action.tool_calls:
            return await super().step(action)
        parsed = parse_tool_calls(action.text, self.tool_format)  # type: ignore[arg-type]
        if parsed.calls or parsed.errors:
            return await super().step(action)
        box = extract_boxed(action.text)
        self.num_turns += 1
        if box.answer is None or box.is_unclosed:
            return self._format_mistake(box.is_unclosed)
        verdict = self._judge(box.answer)
        self.is_running = False
        feedback = f"answer received from \\boxed{{}} (box {box.num_boxes} of {box.num_boxes}); reward {verdict.reward:g}"
        return StepResult(observation=Observation(messages=[Message(role="user", content=feedback)]),
                          reward=verdict.reward, terminated=True, verdict=verdict,
                          info={"num_calls": 0, "num_boxes": box.num_boxes})

    def reference_action(self, task: Task) -> Action:
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": task.data["answer"]})])

    def reference_policy(self, task: Task) -> ToolScript:
        """One turn: `submit` the continuation (the env's single step)."""
        return ToolScript([tool_call("submit", answer=task.data["answer"])])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        return sample_tasks(n, seed=seed, path=self.task_file)

    def _judge(self, prediction: str) -> Verdict:
        assert self.task is not None  # the tool layer only runs tools between reset() and the episode's end
        data = self.task.data
        return score_prediction(prediction, data["continuation"], list(data["token_ends"]),
                                int(data.get("num_tokens", 1)))

    def _format_mistake(self, is_unclosed: bool) -> StepResult:
        if is_unclosed:
            problem = "Your \\boxed{ is never closed: every { inside the box needs its }."
        else:
            problem = "No answer found in your reply."
        content = f"{problem} End your reply with your prediction inside \\boxed{{...}}, or call submit(answer)."
        truncated = self.num_turns >= self.max_turns
        info: dict[str, object] = {"num_calls": 0}
        if truncated:
            info["truncation_reason"] = f"turn budget of {self.max_turns} steps reached"
            self.is_running = False
        return StepResult(observation=Observation(messages=[Message(role="user", content=content)]),
                          truncated=truncated, error="model_error", info=info)
