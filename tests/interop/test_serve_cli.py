"""`agentgym serve ENV --http PORT | --mcp`: user mistakes are one-line errors; --http serves until stopped."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.request

import pytest
from typer.testing import CliRunner

from agentgym.app import cli


def run(*args: str):
    return CliRunner().invoke(cli.app, list(args))


@pytest.mark.parametrize("args", [["serve", "arith"], ["serve", "arith", "--http", "0", "--mcp"]])
def test_exactly_one_transport_is_required(args):
    result = run(*args)
    assert (result.exit_code, result.stderr) == (2, "error: choose one transport: --http PORT or --mcp\n")


def test_an_unknown_env_and_a_misplaced_option_are_one_line_errors(tmp_path):
    result = run("serve", "arth", "--http", "0")
    assert result.exit_code == 2 and result.stderr.startswith("error: no env named 'arth'. Did you mean 'arith'?")
    assert result.stderr.count("\n") == 1
    result = run("serve", "arith", "--http", "0", "--protocol", "plain", "--tasks", str(tmp_path / "t.jsonl"))
    assert result.stderr == ("error: --tasks is for --mcp and --protocol openenv; plain HTTP clients send their own "
                             "tasks with POST /reset\n")
    result = run("serve", "arith", "--http", "0", "--protocol", "grpc")
    assert result.stderr == "error: --protocol must be 'openenv' or 'plain', got 'grpc'\n"


def test_a_port_in_use_is_a_one_line_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("serve", "arith", "--http", str(port))
    assert (result.exit_code, result.stderr) == (2, f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n")


@pytest.mark.parametrize("protocol, health", [
    ("openenv", {"/health": {"status": "healthy"},  # openenv-core's server, with the plain API mounted beside it
                 "/agentgym/health": {"status": "ok", "env": "arith", "num_sessions": 0}}),
    ("plain", {"/health": {"status": "ok", "env": "arith", "num_sessions": 0}}),
])
def test_serve_http_answers_until_stopped(protocol, health):
    proc = subprocess.Popen([sys.executable, "-m", "agentgym.app.cli", "serve", "arith", "--http", "0",
                             "--protocol", protocol],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        line = proc.stderr.readline()
        url = re.search(r"at (http://127\.0\.0\.1:\d+) ", line).group(1)
        for path, expected in health.items():
            with urllib.request.urlopen(url + path, timeout=10) as r:
                assert json.loads(r.read()) == expected
    finally:
        proc.terminate()
        returncode = proc.wait(timeout=10)
        proc.stderr.close()
    assert returncode == 0  # SIGTERM closes the server and its envs, then exits cleanly
