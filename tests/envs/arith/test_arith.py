"""The `arith` reference env: seeded task generator, safe calculator, verifier."""

from __future__ import annotations

import builtins
import re
import time

import pytest

import agentgym
from agentgym.api import Action, Task, ToolCall
from agentgym.envs.arith import ArithEnv, generate_tasks
from agentgym.envs.arith.calculator import evaluate
from agentgym.envs.arith.tasks import ArithTaskConfig, generate_task
from agentgym.toolenv import ToolError

UNSUPPORTED = "only numbers, parentheses and + - * / // % ** are allowed"


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


def submit(answer, call_id: str = "s") -> Action:
    return Action(tool_calls=[ToolCall(id=call_id, name="submit", arguments={"answer": answer})])


def calculate(expression: str) -> Action:
    return Action(tool_calls=[ToolCall(id="c", name="calculator", arguments={"expression": expression})])


def task_with_answer(answer) -> Task:
    return Task(id="fixed", env="arith", prompt="Compute the value of 5 * 7.", data={"expression": "5 * 7",
                                                                                    "answer": answer})


# --- generator -----------------------------------------------------------------------------------------------------
def test_same_seed_same_tasks():
    assert generate_tasks(20, seed=3) == generate_tasks(20, seed=3)


def test_different_seed_different_tasks():
    a = [t.data["expression"] for t in generate_tasks(20, seed=3)]
    b = [t.data["expression"] for t in generate_tasks(20, seed=4)]
    assert sum(x != y for x, y in zip(a, b)) >= 18


def test_task_i_does_not_depend_on_how_many_are_generated():
    assert generate_tasks(3, seed=9) == generate_tasks(12, seed=9)[:3]
    assert generate_task(9, 7, ArithTaskConfig()) == generate_tasks(8, seed=9)[7]


def test_tasks_within_a_stream_differ():
    expressions = [t.data["expression"] for t in generate_tasks(50, seed=0)]
    assert len(set(expressions)) >= 48


def test_generation_does_not_touch_the_global_random_state():
    import random

    random.seed(1234)
    before = random.getstate()
    generate_tasks(5, seed=1)
    assert random.getstate() == before


def test_task_fields():
    task = generate_tasks(1, seed=5)[0]
    assert task.id == "arith-5-0" and task.env == "arith"
    expression = task.data["expression"]
    assert task.prompt == (
        f"Compute the value of {expression}. Use the calculator tool, then submit the integer result."
    )
    assert task.data["answer"] == evaluate(expression) and isinstance(task.data["answer"], int)
    assert task.meta == {"generator": "arith", "seed": 5, "index": 0, "difficulty": 3}


@pytest.mark.parametrize("difficulty", [1, 2, 5, 12, 32])
def test_difficulty_is_the_number_of_operations(difficulty):
    for task in generate_tasks(10, seed=difficulty, difficulty=difficulty):
        expression = task.data["expression"]
        operators = re.findall(r"(?<=\s)[-+*](?=\s)", expression)
        assert len(operators) == difficulty, expression
        assert expression.count("(") == difficulty - 1
        assert task.meta["difficulty"] == difficulty
        assert task.data["answer"] == evaluate(expression)


def test_difficulty_changes_the_stream():
    assert generate_tasks(5, seed=0, difficulty=2) != generate_tasks(5, seed=0, difficulty=3)


def test_env_sample_tasks_uses_its_difficulty():
    env = ArithEnv(difficulty=4)
    assert env.sample_tasks(6, seed=2) == generate_tasks(6, seed=2, difficulty=4)
    assert ArithEnv().sample_tasks(3) == generate_tasks(3, seed=0, difficulty=3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"difficulty": 0}, "difficulty must be an integer in [1, 32], got 0"),
        ({"difficulty": 33}, "difficulty must be an integer in [1, 32], got 33"),
        ({"difficulty": "3"}, "difficulty must be an integer in [1, 32], got '3'"),
        ({"max_operand": 1}, "max_operand must be an integer >= 2, got 1"),
        ({"max_operand": 9.5}, "max_operand must be an integer >= 2, got 9.5"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=exactly(message)):
        ArithTaskConfig(**kwargs)


def test_config_is_keyword_only():
    with pytest.raises(TypeError):
        ArithTaskConfig(3)  # type: ignore[misc]


@pytest.mark.parametrize(("n", "message"), [(-1, "n must be a non-negative integer, got -1"),
                                            (2.0, "n must be a non-negative integer, got 2.0")])
def test_generate_tasks_validates_n(n, message):
    with pytest.raises(ValueError, match=exactly(message)):
        generate_tasks(n)


def test_env_rejects_a_bad_difficulty_at_construction():
    with pytest.raises(ValueError, match=exactly("difficulty must be an integer in [1, 32], got 40")):
        ArithEnv(difficulty=40)


def test_zero_tasks():
    assert generate_tasks(0) == []


# --- calculator ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("(3 + 4) * 5", 35),
        ("  2 ** 10 ", 1024),
        ("-7 // 2", -4),
        ("7 % -3", -2),
        ("-(-3)", 3),
        ("+4", 4),
        ("2 ** -1", 0.5),
        ("0 ** 0", 1),
        ("1e3", 1000),
    ],
)
def test_calculator_values(expression, value):
    assert evaluate(expression) == value


def test_whole_results_are_exact_ints_and_others_floats():
    for expression in ("6 / 3", "2.5 * 2", "(1 / 3) * 3", "0.5 + 0.5", "10 ** 30 / 10 ** 10"):
        result = evaluate(expression)
        assert type(result) is int, (expression, result)
    assert evaluate("10 ** 30 / 10 ** 10") == 10**20  # exact, not 1e20 rounded through a float
    assert evaluate("99 ** 20 + 1") == 99**20 + 1
    for expression, value in (("7 / 2", 3.5), ("1 / 3", 1 / 3), ("0.1 + 0.2", 0.1 + 0.2), ("-1.5", -1.5)):
        result = evaluate(expression)
        assert type(result) is float and result == value, (expression, result)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('touch /tmp/agentgym_pwned')", f"unsupported syntax 'Call': {UNSUPPORTED}"),
        ("__import__", f"unsupported syntax 'Name': {UNSUPPORTED}"),
        ("x + 1", f"unsupported syntax 'Name': {UNSUPPORTED}"),
        ("(1).__class__", f"unsupported syntax 'Attribute': {UNSUPPORTED}"),
        ("abs(-3)", f"unsupported syntax 'Call': {UNSUPPORTED}"),
        ("(lambda: 1)()", f"unsupported syntax 'Call': {UNSUPPORTED}"),
        ("lambda: 1", f"unsupported syntax 'Lambda': {UNSUPPORTED}"),
        ("[1, 2][0]", f"unsupported syntax 'Subscript': {UNSUPPORTED}"),
        ("'7' * 3", f"unsupported syntax 'Constant': {UNSUPPORTED}"),
        ("True + 1", f"unsupported syntax 'Constant': {UNSUPPORTED}"),
        ("1j * 2", f"unsupported syntax 'Constant': {UNSUPPORTED}"),
        ("1 < 2", f"unsupported syntax 'Compare': {UNSUPPORTED}"),
        ("1 << 70", f"unsupported syntax 'LShift': {UNSUPPORTED}"),
        ("~5", f"unsupported syntax 'Invert': {UNSUPPORTED}"),
        ("[x for x in ()]", f"unsupported syntax 'ListComp': {UNSUPPORTED}"),
        ("(y := 3)", f"unsupported syntax 'NamedExpr': {UNSUPPORTED}"),
        ("2 ** 10 ** 10", "exponent must be an integer with |exponent| <= 64"),
        ("2 ** 65", "exponent must be an integer with |exponent| <= 64"),
        ("4 ** 0.5", "exponent must be an integer with |exponent| <= 64"),
        ("9 ** 64 * 9 ** 64 * 9 ** 64 * 9 ** 64", "result has more than 200 digits"),
        ("(99 ** 50) ** 64", "result has more than 200 digits"),
        ("1 / (10 ** 50 * 10 ** 50 * 10 ** 50 * 10 ** 50)", "result has more than 200 digits"),
        ("1e999", "number inf is out of range"),
        ("-1e999 + 1", "number inf is out of range"),
        ("1 / 0", "division by zero"),
        ("1 // 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("5 / (3 - 3)", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("-" * 998 + "1", "expression is nested too deeply"),
        ("1 +", "cannot parse '1 +': invalid syntax"),
        ("", "cannot parse '': invalid syntax"),
        ("import os", "cannot parse 'import os': invalid syntax"),
        ("1\x002", "cannot parse '1\\x002': source code string cannot contain null bytes"),
        ("1+" * 600 + "1", "expression too long (1201 characters; the limit is 1000)"),
    ],
)
def test_calculator_refuses_with_a_clear_tool_error(expression, message):
    with pytest.raises(ToolError, match=exactly(message)):
        evaluate(expression)


@pytest.mark.parametrize("expression", [
    "((((1 / 9 ** 64) ** 64) ** 64) ** 64) ** 64",  # denominators that grow without bound
    "((9 ** 64) ** 64) ** 64",
    "(" * 60 + "99 ** 60" + " * 99 ** 60)" * 60,
])
def test_calculator_refuses_huge_work_quickly(expression):
    start = time.process_time()  # CPU time of this process: other load on the machine does not count
    with pytest.raises(ToolError, match=exactly("result has more than 200 digits")):
        evaluate(expression)
    assert time.process_time() - start < 0.5


def test_calculator_never_calls_eval_or_exec(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the calculator must not use eval/exec")

    for name in ("eval", "exec"):  # compile() stays: ast.parse uses it to build the tree, which executes nothing
        monkeypatch.setattr(builtins, name, forbidden)
    assert evaluate("(3 + 4) * 5") == 35
    with pytest.raises(ToolError):
        evaluate("__import__('os')")


# --- the env: calculator tool and verifier -------------------------------------------------------------------------
async def test_calculator_tool_inside_the_env():
    env = ArithEnv()
    await env.reset(task_with_answer(35), seed=0)
    result = await env.step(calculate("(3 + 4) * 5"))
    assert [m.content for m in result.observation.messages] == ["35"]
    assert result.error is None and not result.terminated


async def test_an_injection_attempt_is_a_model_error_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    env = ArithEnv()
    await env.reset(task_with_answer(35), seed=0)
    result = await env.step(calculate(f"__import__('os').system('touch {marker}')"))
    assert [m.content for m in result.observation.messages] == [f"error: unsupported syntax 'Call': {UNSUPPORTED}"]
    assert result.error == "model_error"
    assert not marker.exists()


async def test_a_huge_power_is_a_model_error_not_an_env_error():
    env = ArithEnv()
    await env.reset(task_with_answer(35), seed=0)
    result = await env.step(calculate("(99 ** 50) ** 64"))
    assert [m.content for m in result.observation.messages] == ["error: result has more than 200 digits"]
    assert result.error == "model_error"


@pytest.mark.parametrize(
    ("answer", "passed", "reason"),
    [
        (35, True, "answer 35 == expected 35"),
        (35.0, True, "answer 35 == expected 35"),
        (36, False, "answer 36 != expected 35"),
        (35.5, False, "answer 35.5 != expected 35"),
        (-35, False, "answer -35 != expected 35"),
        (34.999999, False, "answer 34.999999 != expected 35"),
    ],
)
async def test_verifier(answer, passed, reason):
    env = ArithEnv()
    await env.reset(task_with_answer(35), seed=0)
    result = await env.step(submit(answer))
    assert result.terminated
    assert result.verdict.passed is passed
    assert result.verdict.reward == result.reward == (1.0 if passed else 0.0)
    assert result.verdict.reasons == [reason]
    assert result.verdict.components == {"accuracy": 1.0 if passed else 0.0}


async def test_verifier_compares_large_ints_exactly():
    env = ArithEnv()
    big = 10**20 + 1
    await env.reset(task_with_answer(big), seed=0)
    assert (await env.step(submit(big))).verdict.passed
    await env.reset(task_with_answer(big), seed=0)
    assert not (await env.step(submit(big - 1))).verdict.passed


@pytest.mark.parametrize("answer", ["35", True, None, [35]])
async def test_a_non_number_answer_is_a_model_error_not_a_verdict(answer):
    env = ArithEnv()
    await env.reset(task_with_answer(35), seed=0)
    result = await env.step(submit(answer))
    assert result.verdict is None and not result.terminated
    assert result.error == "model_error"
    assert result.observation.messages[0].content.startswith("error: tool 'submit': ")


async def test_reference_action_solves_every_sample_task():
    env = ArithEnv(difficulty=6)
    for task in env.sample_tasks(10, seed=11):
        await env.reset(task, seed=0)
        result = await env.step(env.reference_action(task))
        assert result.verdict.passed and result.reward == 1.0


async def test_a_full_two_turn_episode_through_text():
    env = agentgym.make("arith")
    task = env.sample_tasks(1, seed=42)[0]
    obs = await env.reset(task, seed=0)
    assert [m.role for m in obs.messages] == ["system", "user"]
    expression = task.data["expression"]
    first = await env.step(Action(
        text=f'<tool_call>{{"name": "calculator", "arguments": {{"expression": "{expression}"}}}}</tool_call>'
    ))
    value = first.observation.messages[0].content
    assert value == str(task.data["answer"])
    second = await env.step(Action(text=f'<tool_call>{{"name": "submit", "arguments": {{"answer": {value}}}}}'
                                        "</tool_call>"))
    assert second.terminated and second.verdict.passed and second.reward == 1.0
    await env.close()


# --- agent input no float can hold (issue #23): a model_error or a verdict, never an env_error -----------------------
@pytest.mark.parametrize("expression", ["1" * 400, "-" + "9" * 309, "1" * 400 + " - 1", "10**400"])
async def test_a_huge_integer_in_the_calculator_is_a_model_error(expression):
    env = ArithEnv()
    await env.reset(task_with_answer(35), seed=0)
    result = await env.step(calculate(expression))
    assert result.error == "model_error"
    assert [m.content for m in result.observation.messages] in (
        ["error: number has more than 200 digits"], ["error: exponent must be an integer with |exponent| <= 64"])


@pytest.mark.parametrize(
    ("action", "shown"),
    [
        (submit(10**400), "answer <an integer of 401 digits> != expected 35"),
        (submit(-(10**5000)), "answer -<an integer of 5001 digits> != expected 35"),
        (Action(text='<tool_call>{"name": "submit", "arguments": {"answer": ' + "9" * 400 + "}}</tool_call>"),
         "answer <an integer of 400 digits> != expected 35"),
    ],
)
async def test_a_huge_integer_submitted_is_a_wrong_answer(action, shown):
    env = ArithEnv()
    await env.reset(task_with_answer(35), seed=0)
    result = await env.step(action)
    assert result.error is None and result.terminated
    assert result.verdict.passed is False and result.reward == 0.0
    assert result.verdict.reasons == [shown]


@pytest.mark.parametrize("raw", ["1e400", "NaN", "-Infinity"])
async def test_a_non_finite_answer_is_a_model_error(raw):
    env = ArithEnv()
    await env.reset(task_with_answer(35), seed=0)
    result = await env.step(Action(text='<tool_call>{"name": "submit", "arguments": {"answer": ' + raw + "}}</tool_call>"))
    assert result.error == "model_error" and not result.terminated
    assert result.observation.messages[0].content == (
        f"error: tool 'submit': argument 'answer' must be a finite number, got {float(raw)!r} (JSON has no NaN or "
        "Infinity)")
