"""Bad agent code never breaks the episode: each case gets a clear observation and the next cell/episode is healthy."""

from __future__ import annotations

import socket

import pytest

from agentgym.api import Action, ToolCall
from agentgym.envs.jupyter import JupyterEnv, generate_tasks

TASK = generate_tasks(1, seed=3, families=("number_theory",))[0]


def execute(code: str) -> Action:
    return Action(tool_calls=[ToolCall(id="c", name="execute", arguments={"code": code})])


@pytest.fixture
async def env(jupyter_pool):
    env = JupyterEnv(pool=jupyter_pool, max_turns=20)
    await env.reset(TASK, seed=0)
    yield env
    await env.close()


async def run(env: JupyterEnv, code: str) -> tuple[str, str | None]:
    result = await env.step(execute(code))
    assert not result.terminated and not result.truncated
    return result.observation.messages[0].content, result.error


async def assert_healthy(env: JupyterEnv) -> None:
    assert await run(env, "print(6 * 7)") == ("stdout:\n42", None)


async def test_syntax_error_is_an_ordinary_result(env):
    text, error = await run(env, "print('a'")
    assert error is None
    assert text.startswith("error: SyntaxError: ") and "print('a'" in text and "^" in text
    await assert_healthy(env)


async def test_exception_keeps_variables_and_shows_a_trimmed_traceback(env):
    await run(env, "x = 5")
    text, error = await run(env, "def f():\n    return 1 / 0\nf()")
    assert error is None
    assert text.startswith("error: ZeroDivisionError: division by zero\ntraceback:")
    assert "----> 2     return 1 / 0" in text and "\x1b" not in text
    assert await run(env, "x") == ("result:\n5", None)


@pytest.mark.slow
async def test_infinite_loop_is_interrupted_and_the_next_cell_works(env):
    await run(env, "y = 7")
    text, error = await run(env, "while True: pass")
    assert error == "model_error"
    assert text.startswith("error: the cell ran longer than 3 s and was interrupted (variables defined before it ")
    assert "KeyboardInterrupt" in text
    assert await run(env, "y") == ("result:\n7", None)


@pytest.mark.slow
async def test_loop_that_ignores_the_interrupt_restarts_the_kernel(env):
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass"
    text, error = await run(env, code)
    assert error == "model_error"
    assert "did not stop when interrupted, so the kernel was restarted" in text
    await assert_healthy(env)


async def test_os_exit_kills_the_kernel_which_is_restarted_and_the_agent_is_told(env):
    await run(env, "z = 1")
    text, error = await run(env, "print('bye', flush=True)\nimport os\nos._exit(1)")
    assert error == "model_error"
    assert text.startswith("error: the kernel died while running this cell (exit status 1) and was restarted: all "
                           "variables and imports are gone")  # fmt: skip
    text, error = await run(env, "z")
    assert error is None and "NameError" in text
    await assert_healthy(env)


async def test_10_gb_allocation_is_a_memory_error_and_the_kernel_survives(env):
    await run(env, "keep = 'still here'")
    text, error = await run(env, "block = bytearray(10 * 1024**3)")
    assert error is None
    assert text.startswith("error: MemoryError")
    assert await run(env, "keep") == ("result:\n'still here'", None)


async def test_input_is_refused_at_once_with_a_clear_message(env):
    text, error = await run(env, "name = input('your name? ')")
    assert error is None
    assert "StdinNotImplementedError" in text and "input() is not available here" in text
    await assert_healthy(env)


async def test_huge_output_is_truncated_with_a_marker(env):
    text, _ = await run(env, "print('\\n'.join(map(str, range(200_000))))")
    assert "characters truncated" in text and len(text) < 9_000
    assert text.startswith("stdout:\n0\n1\n2\n") and text.endswith("199999")


async def test_sandbox_has_no_network_a_read_only_host_and_a_memory_cap(env):
    # Isolation is shown with a listener this test opens on the host's 127.0.0.1 (never an outside address).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        code = ("import socket, resource, os\nprint([n for _, n in socket.if_nameindex()])\n"
                "print(resource.getrlimit(resource.RLIMIT_AS)[0] == 2 * 1024**3)\n"
                "try:\n    open('/etc/jupyter-probe', 'w')\nexcept OSError as e:\n    print(type(e).__name__)\n"
                f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n    print('CONNECTED')\n"
                "except OSError as e:\n    print('no network')")
        text, _ = await run(env, code)
        assert text == "stdout:\n['lo']\nTrue\nOSError\nno network"
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing from the kernel ever reached the host
    finally:
        listener.close()


async def test_the_next_episode_gets_a_clean_namespace_and_workdir(jupyter_pool):
    data_task = generate_tasks(1, seed=0, families=("data_analysis",))[0]
    env = JupyterEnv(pool=jupyter_pool)
    try:
        await env.reset(data_task, seed=0)
        await run(env, "secret = 1\nopen('junk.txt', 'w').write('x')\nimport os\nos.mkdir('d')\nos.chdir('d')")
        await env.reset(TASK, seed=0)
        text, _ = await run(env, "import os\nprint(sorted(os.listdir('.')), 'secret' in dir())")
        assert text == "stdout:\n[] False"
        await env.reset(data_task, seed=0)
        text, _ = await run(env, "print(sorted(os.listdir('.')) if 'os' in dir() else 'os gone')")
        assert text == "stdout:\nos gone"
        text, _ = await run(env, "import os; print(os.listdir('.'))")
        assert text == "stdout:\n['orders.csv']"
    finally:
        await env.close()


async def test_a_kernel_that_cannot_start_is_an_env_error_not_the_agents():
    from agentgym.envs.jupyter import KernelConfig, KernelPool, KernelStartError

    with KernelPool(KernelConfig(python_executable="/bin/false"), size=1) as broken:
        with pytest.raises(KernelStartError, match=r"the Jupyter kernel exited with status 1; its log ends with"):
            await JupyterEnv(pool=broken).reset(TASK, seed=0)
    with KernelPool(KernelConfig(), size=1) as pool:
        env = JupyterEnv(pool=pool)
        await env.reset(TASK, seed=0)
        kernel = env.kernel
        kernel.config = KernelConfig(python_executable="/bin/false")  # the restart after the crash will fail
        text, error = await run(env, "import os; os._exit(1)")
        assert error == "env_error"
        assert text.startswith("internal error in tool 'execute' (KernelStartError: the Jupyter kernel exited")
        assert text.endswith("this is not your fault")
        await env.close()
        assert kernel.is_closed and pool.num_idle == 0  # a broken kernel is not kept warm
