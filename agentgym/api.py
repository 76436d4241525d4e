"""The env contract: what every agentgym environment implements and every layer exchanges.

This module is the one thing every layer imports. It holds only data models (pydantic) and the `Env` protocol, and
imports nothing but the standard library and pydantic. The contract lives in the docstrings below.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Action",
    "Env",
    "Message",
    "Observation",
    "StepResult",
    "Task",
    "ToolCall",
    "ToolSpec",
    "Trajectory",
    "Turn",
    "Verdict",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class ToolSpec(_Model):
    """One tool the agent may call, in OpenAI function-calling form.

    `parameters` is a JSON Schema object, e.g.
    ``{"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}``.
    Arguments not named in `properties` are rejected by the argument validator (see `agentgym.tools`).
    """

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})

    def to_openai(self) -> dict[str, Any]:
        """The `tools=[...]` entry of the OpenAI chat API."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


class ToolCall(_Model):
    """A tool call the agent made.

    `arguments` is the parsed JSON object, or the raw string when the model's JSON did not parse (the env then answers
    with an observation that says so, instead of raising).
    """

    id: str = ""
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)

    def arguments_json(self) -> str:
        """The arguments as the JSON text a chat template writes."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


class Message(_Model):
    """One chat message. `reasoning` is the assistant's thinking (kept apart so templates can drop it)."""

    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None

    def to_openai(self) -> dict[str, Any]:
        """This message in the OpenAI chat-completions wire format."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json()}}
                for c in self.tool_calls
            ]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None and self.role == "tool":
            out["name"] = self.name
        return out


class Task(_Model):
    """One problem instance for one env.

    `prompt` is what the user asks. `data` is env-specific (the verified answer, a repo path, ...); envs must not show
    fields listed in `hidden` to the agent. `meta` holds provenance (generator, difficulty, seed, hashes).

    Example: ``Task(id="arith-3", env="arith", prompt="What is (3+4)*5?", data={"answer": 35})``.
    """

    id: str
    env: str
    prompt: str
    data: dict[str, Any] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)


class Action(_Model):
    """What the agent did in one turn: assistant text and/or tool calls.

    A policy that emits raw text leaves `tool_calls` empty and sets `text`; the env's tool layer then parses the text
    (Hermes `<tool_call>` or DeepSeek format). A policy whose server already parsed the calls (OpenAI API) fills
    `tool_calls` directly. `reasoning` is the thinking text, if the policy separates it.
    """

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    reasoning: str | None = None


class Observation(_Model):
    """What the env shows the agent: new messages to append to the conversation.

    After `reset`: the system and user messages of the task. After `step`: one `tool` message per tool call (its
    result, or an error that states exactly what was wrong), or a `user` message (e.g. "no tool call found").
    """

    messages: list[Message] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """All message contents joined, for text-only consumers such as the gymnasium adapter."""
        return "\n".join(m.content for m in self.messages)


class Verdict(_Model):
    """The verifier's judgement of an answer: reward in [0, 1] (or any env-defined scale), pass/fail and why.

    Every reward component an env uses appears in `reasons` (e.g. ``"answer 35 == expected 35"``) and, when numeric, in
    `components` (e.g. ``{"accuracy": 1.0, "format": 0.0}``), so a policy never optimizes a number nobody can see.
    """

    reward: float
    passed: bool
    reasons: list[str] = Field(default_factory=list)
    components: dict[str, float] = Field(default_factory=dict)


ErrorKind = Literal["model_error", "env_error"]


class StepResult(_Model):
    """The result of one `Env.step`.

    - observation: the new messages (tool results or feedback).
    - reward: the reward for this step (0.0 until the episode's verdict, unless the env gives turn-level rewards).
    - terminated: the episode reached an end state (the agent submitted, or the env decided it is over). Call `reset`
      before stepping again.
    - truncated: the episode was cut short from outside the task (turn budget). Call `reset` before stepping again.
    - verdict: set on the step that ends the episode by a judgement (e.g. `submit`).
    - error: "model_error" when the agent's action was bad (malformed call, unknown tool, wrong argument, its own code
      timing out or killing its interpreter), "env_error" when the env itself failed (sandbox did not start, kernel
      could not be restarted, index missing); None otherwise. See docs/error_labels.md.
    - info: env-specific diagnostics (never needed to act).
    """

    observation: Observation
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    verdict: Verdict | None = None
    error: ErrorKind | None = None
    info: dict[str, Any] = Field(default_factory=dict)


class Turn(_Model):
    """The token-level record of one assistant turn, filled by the model core and consumed by the trainer.

    - prompt_ids: tokens fed to the model before this turn's completion that were not sampled by it (the rendered
      observation/template tokens since the previous turn); they are masked out of the loss.
    - completion_ids / logprobs: the sampled tokens and their log-probabilities under the sampling distribution.
    - loss_mask: 1 where a completion token is trained on.
    - sampling_mask: the recorded top-p/top-k support per sampled position (Keep Sampling Mask), engine-defined.
    - routed_experts: the recorded MoE expert ids per token and layer (Keep Routing), engine-defined.
    - policy_version: which policy weights produced the turn (bounded staleness, off-policy masking).
    - reward: a turn-level reward, if the env gave one.
    - finish_reason: why the reply ended: "stop" (end-of-turn), "length" (cut by the per-turn budget,
      `max_new_tokens`), "window" (cut because the model's context window was full); None when the policy does not say.
    """

    prompt_ids: list[int] | None = None
    completion_ids: list[int] | None = None
    logprobs: list[float] | None = None
    loss_mask: list[int] | None = None
    sampling_mask: Any = None
    routed_experts: Any = None
    policy_version: int | None = None
    reward: float = 0.0
    finish_reason: str | None = None


class Trajectory(_Model):
    """One whole episode: the conversation, its per-turn token records and the outcome.

    `num_prompt_tokens` / `num_completion_tokens` are the totals the policy reported (0 when it reports none).
    `error` is "env_error" when the env (or the policy's infrastructure) failed during the episode: the trainer
    re-plays or drops it, never trains on it; "model_error" when the episode failed by the model's doing (answer
    rejected, turn budget spent); None when it succeeded. `info["failure"]` says why.
    """

    task_id: str
    env: str
    seed: int | None = None
    messages: list[Message] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)
    reward: float = 0.0
    verdict: Verdict | None = None
    terminated: bool = False
    truncated: bool = False
    truncation_reason: str | None = None
    error: ErrorKind | None = None
    num_tool_errors: int = 0
    num_prompt_tokens: int = 0
    num_completion_tokens: int = 0
    info: dict[str, Any] = Field(default_factory=dict)

    @property
    def num_turns(self) -> int:
        return sum(1 for m in self.messages if m.role == "assistant")


@runtime_checkable
class Env(Protocol):
    """What an environment plugin implements. Envs are async so hundreds run concurrently in one process.

    Required (set in ALL implementations):
      - `name`: the registered name.
      - `tools()`, `reset()`, `step()`, `close()` below.

    Optional hooks (used when present): `reference_action(task)` returns an `Action` that solves `task` (used by
    `agentgym envs check` and the registry-wide oracle test); `reference_policy(task)` returns the multi-turn
    reference solution, a ``(messages, tools) -> Action`` function called once per assistant turn with the
    conversation so far (`agentgym.tools.ToolScript` builds one), whose actions are the tool-call *text* a model must
    write; played through the agent loop it earns reward 1 (checked by `agentgym envs check`; SFT demonstrations,
    `agentgym.rl.demos.reference_demonstrations`); `sample_tasks(n, seed)` returns example tasks.

    Changed in 0.1: the optional `reference_policy(task)` hook (multi-turn reference trajectories).

    Lifecycle: construct → `reset(task, seed=...)` → `step(...)` until `terminated` or `truncated` → `reset` again or
    `close()`. `close()` may be called twice; the second call does nothing. Use ``async with env:`` to close on exit.
    """

    name: str

    def tools(self) -> list[ToolSpec]:
        """The tools the agent may call in this env, e.g. ``[ToolSpec(name="calculator", ...)]``."""
        ...

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        """Start an episode on `task` and return its first observation (system + user messages).

        The same task and seed give the same observations and rewards for the same actions.
        """
        ...

    async def step(self, action: Action) -> StepResult:
        """Apply one agent action. Never raises for a bad action: it becomes an observation with `error="model_error"`.

        Raises `agentgym.errors.ResetNeeded` when called before `reset` or after the episode ended (API misuse).
        """
        ...

    async def close(self) -> None:
        """Release resources (kernels, sandboxes). Idempotent."""
        ...
