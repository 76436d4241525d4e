"""The env contract checker behind `agentgym envs check`: a row of small checks, each raising `ContractViolation`.

`check_env` runs them in turn on fresh env instances and returns one line per check. Hard violations raise; an env
without the optional `reference_action`/`reference_policy`/`sample_tasks` hooks skips the checks that need them, and says so.
"""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from agentgym.api import Action, Message, Observation, StepResult, Task, ToolCall, ToolSpec
from agentgym.errors import ContractViolation, ResetNeeded

EnvFactory = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


def _fail(msg: str) -> None:
    raise ContractViolation(msg)


def check_tools(env: Any) -> str:
    """`tools()` returns ToolSpecs with unique names whose parameters are valid JSON Schema objects."""
    import jsonschema

    specs = env.tools()
    if not isinstance(specs, list) or not all(isinstance(s, ToolSpec) for s in specs):
        got = type(specs).__name__
        if isinstance(specs, list):  # say which element is wrong, not just "got list"
            got = "a list containing " + next(type(s).__name__ for s in specs if not isinstance(s, ToolSpec))
        _fail(f"tools() must return a list of agentgym.api.ToolSpec, got {got}")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        _fail(f"tools() returned duplicate tool names: {names}")
    for s in specs:
        if s.parameters.get("type") != "object":
            _fail(f"tool {s.name!r}: parameters must be a JSON Schema with type 'object'")
        try:
            jsonschema.Draft202012Validator.check_schema(s.parameters)
        except jsonschema.SchemaError as e:
            _fail(f"tool {s.name!r}: parameters are not a valid JSON Schema: {e.message}")
    return f"{len(specs)} tools: {', '.join(names)}"


async def check_step_before_reset(env: Any) -> str:
    """`step` before `reset` raises `ResetNeeded` (API misuse is an exception, unlike agent mistakes)."""
    try:
        await env.step(Action(text="hello"))
    except ResetNeeded:
        return "step() before reset() raises ResetNeeded"
    except Exception as e:  # noqa: BLE001
        _fail(f"step() before reset() should raise agentgym.errors.ResetNeeded, raised {type(e).__name__}: {e}")
    _fail("step() before reset() should raise agentgym.errors.ResetNeeded, but it returned")
    return ""


async def check_reset(env: Any, task: Task) -> str:
    """`reset` returns an Observation with at least one message."""
    obs = await env.reset(task, seed=0)
    if not isinstance(obs, Observation):
        _fail(f"reset() must return agentgym.api.Observation, got {type(obs).__name__}")
    if not obs.messages:
        _fail("reset() returned an Observation with no messages; it should show the task to the agent")
    return f"reset() shows {len(obs.messages)} messages"


BAD_ACTIONS: list[tuple[str, Action]] = [
    ("plain text, no tool call", Action(text="I think the answer is 42.")),
    ("malformed JSON in a tool call", Action(text='<tool_call>{"name": "x", "arguments": {"a": 1,}</tool_call>')),
    ("unknown tool", Action(tool_calls=[ToolCall(id="c1", name="no_such_tool_xyz", arguments={})])),
    ("arguments that are not JSON", Action(tool_calls=[ToolCall(id="c2", name="__FIRST__", arguments="{oops")])),
    ("unexpected argument", Action(tool_calls=[ToolCall(id="c3", name="__FIRST__", arguments={"zz_unexpected": 1})])),
    ("empty action", Action()),
]


async def check_bad_actions(make_env: EnvFactory, task: Task) -> str:
    """Malformed actions never raise out of `step`: each returns a StepResult whose observation explains the mistake."""
    first = make_env()
    try:
        first_tool = first.tools()[0].name if first.tools() else "none"
    finally:
        await first.close()
    for label, action in BAD_ACTIONS:
        action = Action.model_validate_json(action.model_dump_json().replace("__FIRST__", first_tool))
        env = make_env()
        try:
            await env.reset(task, seed=0)
            try:
                result = await env.step(action)
            except Exception as e:  # noqa: BLE001
                _fail(f"step() raised {type(e).__name__} on {label}: {e}; agent mistakes must become observations")
            if not isinstance(result, StepResult):
                _fail(f"step() must return agentgym.api.StepResult, got {type(result).__name__} on {label}")
            if not result.observation.messages:
                _fail(f"step() on {label} returned no observation; the agent must be told what was wrong")
            if result.error != "model_error":
                _fail(f"step() on {label} should set error='model_error', got {result.error!r}")
        finally:
            await env.close()
    return f"{len(BAD_ACTIONS)} malformed actions answered with observations"


async def check_reference_solves(env: Any, tasks: Sequence[Task]) -> str:
    """The env's `reference_action` earns a passing verdict on every sample task (the oracle check)."""
    for task in tasks:
        await env.reset(task, seed=0)
        result = await env.step(env.reference_action(task))
        if result.verdict is None or not result.verdict.passed:
            _fail(f"reference_action did not pass task {task.id!r}: verdict={result.verdict}")
    return f"reference solution passes {len(tasks)} tasks"


async def check_reference_policy(env: Any, tasks: Sequence[Task], *, max_turns: int = 64) -> str:
    """The env's `reference_policy(task)`, played turn by turn (its action, then the env's observation appended to
    the conversation, as the agent loop does), earns a passing verdict with reward 1 on every sample task."""
    turns = []
    for task in tasks:
        script = env.reference_policy(task)
        messages = list((await env.reset(task, seed=0)).messages)
        result = None
        for _ in range(max_turns):
            action = script(messages, env.tools())
            if not isinstance(action, Action):
                _fail(f"reference_policy(task) must return a function of (messages, tools) that returns an "
                      f"agentgym.api.Action, got {type(action).__name__}")
            messages.append(Message(role="assistant", content=action.text, tool_calls=action.tool_calls))
            result = await env.step(action)
            messages.extend(result.observation.messages)
            if result.terminated or result.truncated:
                break
        verdict = None if result is None else result.verdict
        turns.append(sum(m.role == "assistant" for m in messages))
        if verdict is None or not verdict.passed or result.reward < 1.0:
            _fail(f"reference_policy did not pass task {task.id!r} in {turns[-1]} turns: verdict={verdict}")
    return f"reference policy passes {len(tasks)} tasks in {min(turns)}-{max(turns)} turns"


async def check_wrong_answer_fails(env: Any, task: Task) -> str:
    """A submission that is not the answer gets no passing verdict (the verifier rejects non-answers)."""
    wrong = mutate_action(env.reference_action(task))
    await env.reset(task, seed=0)
    result = await env.step(wrong)
    if result.verdict is not None and result.verdict.passed:
        _fail(f"a mutated reference answer passed task {task.id!r}: {wrong.tool_calls}")
    return "a wrong answer is rejected"


def mutate_action(action: Action) -> Action:
    """The same action with every tool argument changed (numbers +1, strings suffixed, booleans flipped, lists cut),
    i.e. a near-miss of the reference answer that a verifier must reject."""
    calls = [
        ToolCall(id=c.id, name=c.name, arguments={k: mutate_value(v) for k, v in c.arguments.items()})
        if isinstance(c.arguments, dict) else c
        for c in action.tool_calls
    ]
    return Action(text=action.text + " (wrong)" if action.text else "", tool_calls=calls, reasoning=action.reasoning)


def mutate_value(value: Any) -> Any:
    """A value near `value` but different from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + " (wrong)"
    if isinstance(value, list):
        return value[:-1] if value else ["wrong"]
    return None


async def check_determinism(make_env: EnvFactory, task: Task, action: Action) -> str:
    """The same task, seed and actions give the same observations and rewards."""
    transcripts = []
    for _ in range(2):
        env = make_env()
        try:
            obs = await env.reset(task, seed=123)
            result = await env.step(action)
            transcripts.append((obs.model_dump_json(), result.observation.model_dump_json(), result.reward))
        finally:
            await env.close()
    if transcripts[0] != transcripts[1]:
        _fail("two episodes with the same task, seed and action differ; seed all randomness from reset(seed=...)")
    return "same seed, same transcript"


async def check_close_twice(env: Any) -> str:
    """`close()` may be called twice."""
    await env.close()
    try:
        await env.close()
    except Exception as e:  # noqa: BLE001
        _fail(f"a second close() raised {type(e).__name__}: {e}; close() must be idempotent")
    return "close() is idempotent"


def check_gymnasium(make_env: EnvFactory, tasks: Sequence[Task]) -> str:
    """gymnasium's own `check_env` passes on the `agentgym.gym.GymEnv` adapter."""
    from gymnasium.utils.env_checker import check_env as gym_check_env

    from agentgym.gym import GymEnv

    adapter = GymEnv(make_env(), tasks)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gym_check_env(adapter, skip_render_check=True)
    finally:
        adapter.close()
    serious = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return "gymnasium check_env passes" + (f" ({len(serious)} warnings: {serious[0][:120]})" if serious else "")


def check_env(make_env: EnvFactory, tasks: Sequence[Task] | None = None) -> list[CheckResult]:
    """Run every check against fresh envs from `make_env`. Raises `ContractViolation` at the first hard failure."""
    return asyncio.run(_check_env(make_env, tasks))


async def _check_env(make_env: EnvFactory, tasks: Sequence[Task] | None) -> list[CheckResult]:
    results: list[CheckResult] = []

    async def run(name: str, fn: Callable[..., Any], *args: Any) -> None:
        out = fn(*args)
        if asyncio.iscoroutine(out):
            out = await out
        results.append(CheckResult(name, True, out))

    probe = make_env()
    try:
        await run("tools", check_tools, probe)
        await run("step before reset", check_step_before_reset, probe)
        if tasks is None:
            if not hasattr(probe, "sample_tasks"):
                _fail("no tasks given and the env has no sample_tasks(n, seed=...) hook; pass --tasks FILE")
            tasks = probe.sample_tasks(4, seed=0)
        if not tasks:
            _fail("no tasks to check with")
        await run("reset", check_reset, probe, tasks[0])
        has_reference = hasattr(probe, "reference_action")
        if has_reference:
            await run("reference solves", check_reference_solves, probe, tasks)
            await run("wrong answer fails", check_wrong_answer_fails, probe, tasks[0])
        else:
            results.append(CheckResult("reference solves", True, "skipped: env has no reference_action hook"))
        if callable(getattr(probe, "reference_policy", None)):
            await run("reference policy", check_reference_policy, probe, tasks)
        else:
            results.append(CheckResult("reference policy", True, "skipped: env has no reference_policy hook"))
    finally:
        await probe.close()
    await run("bad actions", check_bad_actions, make_env, tasks[0])
    action = probe.reference_action(tasks[0]) if has_reference else Action(text="hello")
    await run("determinism", check_determinism, make_env, tasks[0], action)
    closer = make_env()
    await run("close twice", check_close_twice, closer)
    results.append(CheckResult("gymnasium", True, await asyncio.to_thread(check_gymnasium, make_env, tasks)))
    return results
