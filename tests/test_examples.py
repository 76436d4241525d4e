"""Every script in examples/ runs to completion in smoke mode (AGENTGYM_SMOKE=1), so the examples never rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
SMOKE_TIMEOUT_S = 120


def run_example(path: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AGENTGYM_SMOKE": "1", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, str(path), *args], check=False, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=SMOKE_TIMEOUT_S)


def test_examples_exist():
    assert {"register_plugin.py", "evaluate.py", "synthesize_tasks.py", "v32_recipe.py"} <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_in_smoke_mode(path, tmp_path):
    done = run_example(path, tmp_path)
    assert done.returncode == 0, f"{path.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def test_evaluate_example_writes_the_report(tmp_path):
    done = run_example(EXAMPLES[0].parent / "evaluate.py", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "runs" / "evaluate"
    assert (run / "report.md").read_text().startswith("# agentgym evaluation")
    assert (run / "plots" / "arith_passk.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "pass@1=" in done.stdout and "report: runs/evaluate/report.md" in done.stdout


def test_evaluate_example_against_an_openai_compatible_endpoint(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from fake_openai import FakeOpenAIServer, chat_response

    def submit_zero(body):
        return chat_response(tool_calls=[{"name": "submit", "arguments": {"answer": 0}}])

    with FakeOpenAIServer(submit_zero) as server:
        done = run_example(EXAMPLES[0].parent / "evaluate.py", tmp_path, "--policy", f"openai:fake@{server.base_url}",
                           "--n", "2", "--num-tasks", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(server.requests) == 6  # 3 tasks × 2 samples, one turn each
    assert "arith: pass@1=0.00  pass@2=0.00" in done.stdout


def test_register_plugin_example_checks_and_solves(tmp_path):
    done = run_example(EXAMPLES[0].parent / "register_plugin.py", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "check gymnasium: gymnasium check_env passes" in done.stdout
    assert "reverse: 8/8 episodes solved" in done.stdout


def test_synthesize_tasks_example_keeps_only_solvable_tasks(tmp_path):
    done = run_example(EXAMPLES[0].parent / "synthesize_tasks.py", tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "synthesized 6 tasks" in done.stdout and "kept " in done.stdout
    assert (tmp_path / "runs" / "synthesize_tasks" / "tasks.jsonl").exists()


def test_synth_filter_train_example_reports_the_whole_loop(tmp_path):
    done = run_example(EXAMPLES[0].parent / "synth_filter_train.py", tmp_path, "--smoke")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "runs" / "synth_filter_train" / "report.json").read_text())
    assert report["tasks_made"] == 6 and report["heldout_n"] == 2 and report["steps"] == 2
    assert report["tasks_trained_on"] + report["heldout_n"] == (report["tasks_made"] if report["fallback"]
                                                                else report["tasks_kept"])
    for key in ("heldout_before", "heldout_after"):
        assert report[key]["n"] == 2 and report[key]["low"] <= report[key]["mean"] <= report[key]["high"]
