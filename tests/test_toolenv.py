"""`ToolEnv` and `@tool`: schemas from signatures, agent mistakes as observations, env bugs as env_error, lifecycle."""

from __future__ import annotations

import re

import pytest

from agentgym.api import Action, Env, Message, Observation, Task, ToolCall, ToolSpec, Verdict
from agentgym.errors import ResetNeeded
from agentgym.toolenv import ToolEnv, ToolError, tool
from agentgym.tools import parse_tool_calls, validate_call

TASK = Task(id="t-1", env="calc-test", prompt="Add 2 and 3, then submit.", data={"answer": 5})


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


class CalcEnv(ToolEnv):
    """A small tool env that exercises every path: a normal tool, an agent-fault tool, a buggy tool, and submit."""

    name = "calc-test"
    system_prompt = "You add numbers."

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls: list[str] = []
        self.num_closes = 0

    @tool("Add two integers.", a={"description": "first"})
    async def add(self, a: int, b: int = 0) -> str:
        self.calls.append("add")
        return str(a + b)

    @tool("Open a file.")
    async def open_file(self, path: str) -> str:
        self.calls.append("open_file")
        raise ToolError(f"no such file: {path}")

    @tool("A tool with a bug in it.")
    async def crash(self) -> str:
        self.calls.append("crash")
        return {"k": 1}["missing"]

    @tool("Submit the answer; ends the episode.")
    async def submit(self, answer: int) -> Verdict:
        self.calls.append("submit")
        passed = answer == self.task.data["answer"]
        return Verdict(reward=1.0 if passed else 0.0, passed=passed, reasons=[f"answer {answer}"])

    async def aclose(self) -> None:
        self.num_closes += 1


def call(name: str, call_id: str = "c1", **arguments) -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=arguments)


async def started(**kwargs) -> CalcEnv:
    env = CalcEnv(**kwargs)
    await env.reset(TASK, seed=0)
    return env


# --- @tool ---------------------------------------------------------------------------------------------------------
def test_tool_derives_the_schema_from_the_signature():
    assert CalcEnv.add.__tool_spec__ == ToolSpec(
        name="add",
        description="Add two integers.",
        parameters={
            "type": "object",
            "properties": {"a": {"description": "first", "type": "integer"}, "b": {"type": "integer"}},
            "required": ["a"],
        },
    )


def test_tool_maps_every_json_type_under_postponed_annotations():
    # This module uses `from __future__ import annotations`, so the annotations arrive as strings.
    class Typed:
        @tool("all types")
        async def f(self, s: str, i: int, x: float, flag: bool, items: list, obj: dict, anything=None) -> str:
            return ""

    parameters = Typed.f.__tool_spec__.parameters
    assert parameters["properties"] == {
        "s": {"type": "string"},
        "i": {"type": "integer"},
        "x": {"type": "number"},
        "flag": {"type": "boolean"},
        "items": {"type": "array"},
        "obj": {"type": "object"},
        "anything": {},
    }
    assert parameters["required"] == ["s", "i", "x", "flag", "items", "obj"]


def test_explicit_schema_wins_over_the_annotation():
    class Explicit:
        @tool("pick", mode={"type": "string", "enum": ["a", "b"]}, n={"type": ["integer", "null"]})
        async def pick(self, mode: int, n: int | None = None) -> str:
            return ""

    properties = Explicit.pick.__tool_spec__.parameters["properties"]
    assert properties == {"mode": {"type": "string", "enum": ["a", "b"]}, "n": {"type": ["integer", "null"]}}


def test_tool_with_no_parameters():
    assert CalcEnv.crash.__tool_spec__.parameters == {"type": "object", "properties": {}, "required": []}


def test_tool_rejects_a_plain_function():
    with pytest.raises(TypeError, match=exactly("tool 'sync_tool' must be an async method (async def)")):
        class Bad:
            @tool("not async")
            def sync_tool(self, x: int) -> str:
                return ""


def test_tool_rejects_schemas_for_unknown_parameters():
    with pytest.raises(TypeError, match=exactly(
        "tool 'f': schemas given for parameters not in the signature: ['typo', 'zz']"
    )):
        class Bad:
            @tool("typo", zz={"type": "string"}, typo={"type": "integer"}, x={"type": "integer"})
            async def f(self, x: int) -> str:
                return ""


def test_tools_lists_specs_in_definition_order_and_inherits():
    class MoreEnv(CalcEnv):
        @tool("Multiply.")
        async def mul(self, a: int, b: int) -> str:
            return str(a * b)

    assert [s.name for s in CalcEnv().tools()] == ["add", "open_file", "crash", "submit"]
    assert [s.name for s in MoreEnv().tools()] == ["add", "open_file", "crash", "submit", "mul"]


def test_an_override_with_tool_replaces_the_schema_in_place():
    class StrictSubmit(CalcEnv):
        @tool("Submit, strictly.", answer={"type": "integer", "minimum": 0})
        async def submit(self, answer: int) -> Verdict:
            return Verdict(reward=0.0, passed=False)

    specs = StrictSubmit().tools()
    assert [s.name for s in specs] == ["add", "open_file", "crash", "submit"]
    assert specs[3].description == "Submit, strictly."
    assert specs[3].parameters["properties"]["answer"] == {"type": "integer", "minimum": 0}


def test_an_override_without_tool_is_a_clear_error():
    class Forgot(CalcEnv):
        async def submit(self, answer: int) -> Verdict:
            return Verdict(reward=1.0, passed=True)

    with pytest.raises(TypeError, match=exactly(
        "Forgot.submit overrides a tool without @tool; decorate the override with @tool(...)"
    )):
        Forgot()


def test_tools_returns_a_copy():
    env = CalcEnv()
    env.tools().clear()
    assert len(env.tools()) == 4


def test_constructor_validates_its_config():
    with pytest.raises(ValueError, match=exactly("max_turns must be a positive integer, got 0")):
        CalcEnv(max_turns=0)
    with pytest.raises(ValueError, match=exactly("max_turns must be a positive integer, got 2.5")):
        CalcEnv(max_turns=2.5)
    with pytest.raises(ValueError, match=exactly("tool_format must be 'auto', 'hermes' or 'deepseek', got 'xml'")):
        CalcEnv(tool_format="xml")


def test_a_tool_env_satisfies_the_env_protocol():
    assert isinstance(CalcEnv(), Env)


# --- lifecycle -----------------------------------------------------------------------------------------------------
async def test_reset_shows_system_and_user_messages():
    env = CalcEnv()
    obs = await env.reset(TASK, seed=1)
    assert obs == Observation(messages=[
        Message(role="system", content="You add numbers."),
        Message(role="user", content="Add 2 and 3, then submit."),
    ])


async def test_reset_seeds_the_env_rng():
    env = CalcEnv()
    await env.reset(TASK, seed=7)
    first = [env.rng.random() for _ in range(3)]
    await env.reset(TASK, seed=7)
    assert [env.rng.random() for _ in range(3)] == first
    await env.reset(TASK, seed=8)
    assert [env.rng.random() for _ in range(3)] != first


async def test_step_before_reset_raises():
    with pytest.raises(ResetNeeded, match=exactly(
        "env 'calc-test': step() called before reset() or after the episode ended; call reset(task) first"
    )):
        await CalcEnv().step(Action(tool_calls=[call("add", a=1)]))


async def test_step_after_the_episode_ended_raises_until_reset():
    env = await started()
    result = await env.step(Action(tool_calls=[call("submit", answer=5)]))
    assert result.terminated
    with pytest.raises(ResetNeeded):
        await env.step(Action(tool_calls=[call("add", a=1)]))
    await env.reset(TASK, seed=0)
    assert (await env.step(Action(tool_calls=[call("add", a=1)]))).observation.messages[0].content == "1"


async def test_close_twice_releases_once_and_blocks_reset():
    env = await started()
    await env.close()
    await env.close()
    assert env.num_closes == 1
    with pytest.raises(ResetNeeded, match=exactly("env 'calc-test' is closed; make a new one")):
        await env.reset(TASK)
    with pytest.raises(ResetNeeded):
        await env.step(Action(text="hi"))


async def test_async_with_closes_on_exit_and_on_error():
    async with CalcEnv() as env:
        await env.reset(TASK, seed=0)
    assert env.is_closed and env.num_closes == 1
    with pytest.raises(KeyError):
        async with CalcEnv() as other:
            raise KeyError("boom")
    assert other.is_closed and other.num_closes == 1


# --- agent mistakes become observations -----------------------------------------------------------------------------
async def test_no_tool_call_gets_a_user_message_and_model_error():
    env = await started()
    result = await env.step(Action(text="I think it is 5."))
    assert result.observation.messages == [Message(
        role="user",
        content=(
            "No tool call found in your message. Call one of the tools (add, open_file, crash, submit) to continue."
        ),
    )]
    assert result.error == "model_error"
    assert (result.reward, result.terminated, result.truncated, result.verdict) == (0.0, False, False, None)
    assert env.calls == []


async def test_empty_action_is_a_model_error():
    env = await started()
    result = await env.step(Action())
    assert result.error == "model_error"
    assert result.observation.messages[0].content.startswith("No tool call found in your message.")


@pytest.mark.parametrize("text", [
    'Let me add.\n<tool_call>{"name": "add", "arguments": {"a": 1}</tool_call>',  # block's own brace missing
    '<tool_call>{"name": "add", "arguments": {"a": 1}}',  # never closed
    "<tool_call>[1, 2]</tool_call>",  # not an object
])
async def test_malformed_tool_call_text_is_reported_verbatim(text):
    env = await started()
    result = await env.step(Action(text=text))
    (expected_error,) = parse_tool_calls(text).errors
    assert result.observation.messages == [Message(role="tool", name="error", content=f"error: {expected_error}")]
    assert expected_error.startswith("tool call 1: ")
    assert result.error == "model_error" and not result.terminated
    assert env.calls == []


async def test_bad_json_inside_the_arguments_is_answered_by_tool_name():
    env = await started()
    result = await env.step(Action(text='<tool_call>{"name": "add", "arguments": {"a": 1,}}</tool_call>'))
    (message,) = result.observation.messages
    assert (message.role, message.name) == ("tool", "add")
    assert message.content.startswith("error: tool 'add': ") and "JSON" in message.content
    assert result.error == "model_error" and env.calls == []


async def test_a_hermes_tool_call_in_text_runs():
    env = await started()
    result = await env.step(Action(text='<tool_call>{"name": "add", "arguments": {"a": 2, "b": 3}}</tool_call>'))
    assert result.observation.messages == [Message(role="tool", name="add", tool_call_id="call_0", content="5")]
    assert result.error is None and result.info == {"num_calls": 1}


async def test_parsed_tool_calls_take_precedence_over_text():
    env = await started()
    result = await env.step(Action(text="<tool_call>{broken", tool_calls=[call("add", a=4)]))
    assert [m.content for m in result.observation.messages] == ["4"]
    assert result.error is None


@pytest.mark.parametrize(
    ("label", "bad_call", "must_mention"),
    [
        ("unknown tool", ToolCall(id="c1", name="ad", arguments={"a": 1}), ["'ad'", "add"]),
        ("missing argument", ToolCall(id="c1", name="add", arguments={"b": 1}), ["'a'"]),
        ("extra argument", ToolCall(id="c1", name="add", arguments={"a": 1, "c": 2}), ["'c'"]),
        ("wrong type", ToolCall(id="c1", name="add", arguments={"a": "two"}), ["'a'", "integer", "two"]),
        ("arguments not JSON", ToolCall(id="c1", name="add", arguments='{"a": 1'), ["JSON"]),
    ],
)
async def test_bad_calls_are_answered_with_the_exact_problem(label, bad_call, must_mention):
    env = await started()
    result = await env.step(Action(tool_calls=[bad_call]))
    problem = validate_call(bad_call, env.tools())
    assert problem is not None, label
    assert result.observation.messages == [
        Message(role="tool", name=bad_call.name, tool_call_id="c1", content=f"error: {problem}")
    ]
    for fragment in must_mention:
        assert fragment in problem, (label, problem)
    assert result.error == "model_error" and not result.terminated and result.reward == 0.0
    assert env.calls == []  # the tool never ran with bad arguments


async def test_tool_error_is_the_agents_fault():
    env = await started()
    result = await env.step(Action(tool_calls=[call("open_file", path="notes.txt")]))
    assert result.observation.messages == [
        Message(role="tool", name="open_file", tool_call_id="c1", content="error: no such file: notes.txt")
    ]
    assert result.error == "model_error" and not result.terminated


async def test_any_other_tool_exception_is_an_env_error_and_not_the_agents_fault():
    env = await started()
    result = await env.step(Action(tool_calls=[call("crash")]))
    assert result.observation.messages == [Message(
        role="tool", name="crash", tool_call_id="c1",
        content="internal error in tool 'crash' (KeyError: 'missing'); this is not your fault",
    )]
    assert result.error == "env_error" and not result.terminated
    assert env.is_running  # the agent may go on


async def test_env_error_is_not_masked_by_an_earlier_model_error():
    env = await started()
    result = await env.step(Action(tool_calls=[call("nope", "c1"), call("crash", "c2"), call("add", "c3", a=1)]))
    assert [m.tool_call_id for m in result.observation.messages] == ["c1", "c2", "c3"]
    assert result.observation.messages[2].content == "1"
    assert result.error == "env_error"


async def test_several_calls_run_in_order():
    env = await started()
    result = await env.step(Action(tool_calls=[call("add", "x", a=1, b=1), call("add", "y", a=2, b=2)]))
    assert [(m.tool_call_id, m.content) for m in result.observation.messages] == [("x", "2"), ("y", "4")]
    assert result.info == {"num_calls": 2}


# --- ending an episode ---------------------------------------------------------------------------------------------
async def test_submit_ends_the_episode_with_its_verdict():
    env = await started()
    result = await env.step(Action(tool_calls=[call("submit", answer=5)]))
    assert result.terminated and not result.truncated
    assert result.verdict == Verdict(reward=1.0, passed=True, reasons=["answer 5"])
    assert result.reward == 1.0 and result.error is None
    assert result.observation.messages == [
        Message(role="tool", name="submit", tool_call_id="c1", content="submitted; reward 1")
    ]


async def test_calls_after_a_submit_in_the_same_action_are_ignored():
    env = await started()
    result = await env.step(Action(tool_calls=[
        call("submit", "s", answer=4), call("add", "a", a=1), call("submit", "s2", answer=5),
    ]))
    ignored = "ignored: the episode already ended with the call before this one"
    assert [(m.tool_call_id, m.content) for m in result.observation.messages] == [
        ("s", "submitted; reward 0"), ("a", ignored), ("s2", ignored),
    ]
    assert env.calls == ["submit"]  # neither the add nor the second submit ran
    assert result.verdict.passed is False and result.reward == 0.0 and result.terminated


async def test_turn_budget_truncates_with_a_reason():
    env = await started(max_turns=2)
    first = await env.step(Action(text="thinking"))
    assert not first.truncated and "truncation_reason" not in first.info
    second = await env.step(Action(tool_calls=[call("add", a=1)]))
    assert second.truncated and not second.terminated and second.verdict is None
    assert second.info["truncation_reason"] == "turn budget of 2 steps reached"
    with pytest.raises(ResetNeeded):
        await env.step(Action(text="more"))


async def test_a_submit_on_the_last_turn_terminates_rather_than_truncates():
    env = await started(max_turns=1)
    result = await env.step(Action(tool_calls=[call("submit", answer=5)]))
    assert result.terminated and not result.truncated and result.verdict.passed


async def test_reset_restores_the_turn_budget():
    env = await started(max_turns=1)
    assert (await env.step(Action(text="x"))).truncated
    await env.reset(TASK, seed=0)
    assert env.num_turns == 0
    assert (await env.step(Action(tool_calls=[call("submit", answer=5)]))).terminated


# --- what the agent's arguments break is the agent's mistake (issue #23) --------------------------------------------
class FragileEnv(CalcEnv):
    """Tools that fail only on odd arguments: as tools written without huge numbers or odd text in mind do."""

    @tool("Halve a number.")
    async def halve(self, x: float) -> str:
        return str(float(x) / 2)

    @tool("Encode text as Latin-1.")
    async def latin1(self, text: str) -> str:
        return text.encode("latin-1").hex()


async def test_an_overflow_caused_by_the_arguments_is_a_model_error():
    env = FragileEnv()
    await env.reset(TASK, seed=0)
    result = await env.step(Action(tool_calls=[call("halve", x=10**400)]))
    assert result.observation.messages[0].content == (
        "error: tool 'halve' cannot work with the arguments it was given (OverflowError: int too large to convert to "
        "float); use smaller numbers, shorter or plainer text, or less nesting")
    assert result.error == "model_error" and env.is_running


async def test_text_a_tool_cannot_encode_is_a_model_error():
    env = FragileEnv()
    await env.reset(TASK, seed=0)
    result = await env.step(Action(tool_calls=[call("latin1", text="🙂")]))
    assert result.error == "model_error"
    assert result.observation.messages[0].content.startswith(
        "error: tool 'latin1' cannot work with the arguments it was given (UnicodeEncodeError: ")


async def test_an_env_may_narrow_the_argument_errors_back_to_env_errors():
    class Strict(FragileEnv):
        argument_errors = ()

    env = Strict()
    await env.reset(TASK, seed=0)
    result = await env.step(Action(tool_calls=[call("halve", x=10**400)]))
    assert result.error == "env_error"
    assert result.observation.messages[0].content.endswith("this is not your fault")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"x": float("nan")}, "error: tool 'halve': argument 'x' must be a finite number, got nan (JSON has no NaN or "
                              "Infinity)"),
        ({"x": float("-inf")}, "error: tool 'halve': argument 'x' must be a finite number, got -inf (JSON has no NaN "
                               "or Infinity)"),
        ('{"x": Infinity}', "error: tool 'halve': argument 'x' must be a finite number, got inf (JSON has no NaN or "
                            "Infinity)"),
        ({"text": "ab\udcff"}, "error: tool 'latin1': argument 'text' contains an unpaired surrogate '\\udcff' at "
                               "character 2, which is not valid Unicode; send plain UTF-8 text"),
        ('{"text": "\\ud800"}', "error: tool 'latin1': argument 'text' contains an unpaired surrogate '\\ud800' at "
                                "character 0, which is not valid Unicode; send plain UTF-8 text"),
    ],
)
async def test_values_json_cannot_carry_are_refused_before_the_tool_runs(arguments, message):
    env = FragileEnv()
    await env.reset(TASK, seed=0)
    name = message.split("'")[1]
    result = await env.step(Action(tool_calls=[ToolCall(id="c1", name=name, arguments=arguments)]))
    assert [m.content for m in result.observation.messages] == [message]
    assert result.error == "model_error"


def test_validate_finds_odd_values_nested_and_in_keys():
    spec = ToolSpec(name="t", parameters={"type": "object", "additionalProperties": True})
    assert validate_call(ToolCall(name="t", arguments={"a": [1, {"b": float("nan")}]}), [spec]) == (
        "tool 't': argument 'a[1].b' must be a finite number, got nan (JSON has no NaN or Infinity)")
    assert validate_call(ToolCall(name="t", arguments={"k\udcff": 1}), [spec]) == (
        "tool 't': an argument name under arguments contains an unpaired surrogate '\\udcff' at character 1, which is "
        "not valid Unicode; send plain UTF-8 text")
    assert validate_call(ToolCall(name="t", arguments={"a": "🙂 paired surrogates are fine"}), [spec]) is None
