"""The contract checker passes a good env and fails, with a message naming the cause, on deliberately broken ones."""

from __future__ import annotations

import itertools
import re

import pytest

import agentgym
from agentgym.api import Action, Message, Observation, StepResult, Task, ToolCall, ToolSpec, Verdict
from agentgym.checker import check_env
from agentgym.errors import ContractViolation
from agentgym.toolenv import ToolEnv, tool

CHECK_NAMES = [
    "tools", "step before reset", "reset", "reference solves", "wrong answer fails", "reference policy", "bad actions", "determinism",
    "close twice", "gymnasium",
]


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


class ToolsOnly(ToolEnv):
    """A correct env without the optional hooks."""

    name = "good"

    @tool("Repeat a word.")
    async def echo(self, word: str) -> str:
        return word

    @tool("Submit the answer; ends the episode.")
    async def submit(self, answer: int) -> Verdict:
        passed = answer == self.task.data["answer"]
        reason = f"{answer} {'==' if passed else '!='} {self.task.data['answer']}"
        return Verdict(reward=float(passed), passed=passed, reasons=[reason])

    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        obs = await super().reset(task, seed=seed)
        # Randomness drawn from the seeded rng is fine: the same seed shows the same number.
        obs.messages.append(Message(role="user", content=f"Lucky number: {self.rng.randint(0, 10**9)}"))
        return obs


class GoodEnv(ToolsOnly):
    """A correct env with both optional hooks."""

    def reference_action(self, task: Task) -> Action:
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": task.data["answer"]})])

    def sample_tasks(self, n: int, *, seed: int = 0) -> list[Task]:
        return [Task(id=f"good-{i}", env="good", prompt=f"Submit {7 + i}.", data={"answer": 7 + i}) for i in range(n)]


def check(cls: type, tasks: list[Task] | None = None):
    return check_env(cls, tasks)


# --- passing envs --------------------------------------------------------------------------------------------------
def test_good_env_passes_every_check():
    results = check(GoodEnv)
    assert [r.name for r in results] == CHECK_NAMES
    assert all(r.passed for r in results)
    details = {r.name: r.detail for r in results}
    assert details["tools"] == "2 tools: echo, submit"
    assert details["reference solves"] == "reference solution passes 4 tasks"
    assert details["bad actions"] == "6 malformed actions answered with observations"
    assert details["gymnasium"] == "gymnasium check_env passes"


def test_arith_passes_every_check():
    results = check_env(lambda: agentgym.make("arith"))
    assert [r.name for r in results] == CHECK_NAMES and all(r.passed for r in results)


def test_env_without_hooks_passes_with_given_tasks_and_says_what_it_skipped():
    tasks = GoodEnv().sample_tasks(2)
    results = check(ToolsOnly, tasks)
    details = {r.name: r.detail for r in results}
    assert details["reference solves"] == "skipped: env has no reference_action hook"
    assert "wrong answer fails" not in details


def test_env_without_tasks_or_a_generator_fails():
    with pytest.raises(ContractViolation, match=exactly(
        "no tasks given and the env has no sample_tasks(n, seed=...) hook; pass --tasks FILE"
    )):
        check(ToolsOnly)


def test_an_empty_task_list_fails():
    with pytest.raises(ContractViolation, match=exactly("no tasks to check with")):
        check(GoodEnv, [])


# --- broken envs, one fault each -----------------------------------------------------------------------------------
class StepBeforeResetReturns(GoodEnv):
    async def step(self, action: Action) -> StepResult:
        if not self.is_running:
            return StepResult(observation=Observation(messages=[Message(role="user", content="please reset")]))
        return await super().step(action)


class StepBeforeResetRaisesTheWrongError(GoodEnv):
    async def step(self, action: Action) -> StepResult:
        if self.task is None:
            raise RuntimeError("no task yet")
        return await super().step(action)


class RaisesOnBadInput(GoodEnv):
    async def step(self, action: Action) -> StepResult:
        if self.is_running and not action.tool_calls:
            raise ValueError("cannot parse the action")
        return await super().step(action)


class ReturnsNonStepResult(GoodEnv):
    async def step(self, action: Action):
        result = await super().step(action)
        return result.model_dump() if result.error else result


class SilentAboutMistakes(GoodEnv):
    async def step(self, action: Action) -> StepResult:
        result = await super().step(action)
        return result.model_copy(update={"observation": Observation()}) if result.error else result


class MistakesNotLabelled(GoodEnv):
    async def step(self, action: Action) -> StepResult:
        result = await super().step(action)
        return result.model_copy(update={"error": None})


class ResetReturnsDict(GoodEnv):
    async def reset(self, task: Task, *, seed: int | None = None):
        return (await super().reset(task, seed=seed)).model_dump()


class ResetShowsNothing(GoodEnv):
    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        await super().reset(task, seed=seed)
        return Observation()


_episodes = itertools.count()


class NondeterministicReset(GoodEnv):
    async def reset(self, task: Task, *, seed: int | None = None) -> Observation:
        obs = await super().reset(task, seed=seed)
        obs.messages.append(Message(role="user", content=f"episode {next(_episodes)}"))  # ignores the seed
        return obs


class ReferenceIsWrong(GoodEnv):
    def reference_action(self, task: Task) -> Action:
        return Action(tool_calls=[ToolCall(id="ref", name="submit", arguments={"answer": task.data["answer"] + 1})])


class ReferenceNeverSubmits(GoodEnv):
    def reference_action(self, task: Task) -> Action:
        return Action(tool_calls=[ToolCall(id="ref", name="echo", arguments={"word": "done"})])


class AcceptsAnything(GoodEnv):
    @tool("Submit the answer; ends the episode.")
    async def submit(self, answer: int) -> Verdict:
        return Verdict(reward=1.0, passed=True, reasons=["looks fine"])


class DuplicateToolNames(GoodEnv):
    def tools(self) -> list[ToolSpec]:
        return super().tools() + super().tools()[:1]


class InvalidSchema(GoodEnv):
    def tools(self) -> list[ToolSpec]:
        return [ToolSpec(name="echo", parameters={"type": "object", "properties": {"word": {"type": "strng"}}})]


class SchemaNotAnObject(GoodEnv):
    def tools(self) -> list[ToolSpec]:
        return [ToolSpec(name="echo", parameters={"type": "array", "items": {"type": "string"}})]


class ToolsNotAList(GoodEnv):
    def tools(self):
        return tuple(super().tools())


class ToolsAsDicts(GoodEnv):
    def tools(self):
        return [s.to_openai() for s in super().tools()]


class CloseNotIdempotent(GoodEnv):
    async def close(self) -> None:
        if self.is_closed:
            raise RuntimeError("already closed")
        await super().close()


BROKEN = [
    (StepBeforeResetReturns, "step() before reset() should raise agentgym.errors.ResetNeeded, but it returned"),
    (StepBeforeResetRaisesTheWrongError,
     "step() before reset() should raise agentgym.errors.ResetNeeded, raised RuntimeError: no task yet"),
    (RaisesOnBadInput, (
        "step() raised ValueError on plain text, no tool call: cannot parse the action; agent mistakes must become "
        "observations"
    )),
    (ReturnsNonStepResult, "step() must return agentgym.api.StepResult, got dict on plain text, no tool call"),
    (SilentAboutMistakes,
     "step() on plain text, no tool call returned no observation; the agent must be told what was wrong"),
    (MistakesNotLabelled, "step() on plain text, no tool call should set error='model_error', got None"),
    (ResetReturnsDict, "reset() must return agentgym.api.Observation, got dict"),
    (ResetShowsNothing, "reset() returned an Observation with no messages; it should show the task to the agent"),
    (NondeterministicReset,
     "two episodes with the same task, seed and action differ; seed all randomness from reset(seed=...)"),
    (ReferenceIsWrong,
     "reference_action did not pass task 'good-0': verdict=reward=0.0 passed=False reasons=['8 != 7'] components={}"),
    (ReferenceNeverSubmits, "reference_action did not pass task 'good-0': verdict=None"),
    (AcceptsAnything,
     "a mutated reference answer passed task 'good-0': [ToolCall(id='ref', name='submit', arguments={'answer': 8})]"),
    (DuplicateToolNames, "tools() returned duplicate tool names: ['echo', 'submit', 'echo']"),
    (InvalidSchema,
     "tool 'echo': parameters are not a valid JSON Schema: 'strng' is not valid under any of the given schemas"),
    (SchemaNotAnObject, "tool 'echo': parameters must be a JSON Schema with type 'object'"),
    (ToolsNotAList, "tools() must return a list of agentgym.api.ToolSpec, got tuple"),
    (ToolsAsDicts, "tools() must return a list of agentgym.api.ToolSpec, got a list containing dict"),
    (CloseNotIdempotent, "a second close() raised RuntimeError: already closed; close() must be idempotent"),
]


@pytest.mark.parametrize(("cls", "message"), BROKEN, ids=[cls.__name__ for cls, _ in BROKEN])
def test_broken_env_fails_with_a_message_naming_the_cause(cls, message):
    with pytest.raises(ContractViolation, match=exactly(message)) as info:
        check(cls)
    assert isinstance(info.value, AssertionError)  # a contract violation reads as a failed check in pytest, too


def test_every_broken_env_differs_from_the_good_one_in_one_place():
    # Guard against a broken env failing for a reason other than the one it was written for.
    for cls, _ in BROKEN:
        overridden = {k for k in vars(cls) if not k.startswith("__")}
        assert len(overridden) == 1, (cls.__name__, overridden)
