"""`agentgym train` reports config mistakes as one clear line, never a traceback."""

from __future__ import annotations

from typer.testing import CliRunner

from agentgym.app.cli import app


def test_train_with_an_unknown_key_names_it(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("model:\n  preset: tiny\nbogus_key: 1\n")
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 2
    assert "bogus_key: unknown key" in result.output and "Traceback" not in result.output


def test_train_with_a_missing_file():
    result = CliRunner().invoke(app, ["train", "/nonexistent/config.yaml"])
    assert result.exit_code == 2 and "does not exist" in result.output


def test_quickstart_runs_the_grpo_job_and_prints_its_report(tmp_path, monkeypatch):
    import agentgym.app.quickstart as qs

    seen = {}

    def fake_run(config):
        seen["config"] = config
        report = tmp_path / "report.md"
        report.write_text("# quickstart report\nheld-out reward before 0.0, after 0.5\n")
        return qs.QuickstartResult(scores={}, records=[], report=report)

    monkeypatch.setattr(qs, "run_quickstart", fake_run)
    result = CliRunner().invoke(app, ["quickstart", "--out-dir", str(tmp_path / "qs")])
    assert result.exit_code == 0, result.output
    assert seen["config"].out_dir == str(tmp_path / "qs")
    assert "held-out reward before 0.0, after 0.5" in result.output
