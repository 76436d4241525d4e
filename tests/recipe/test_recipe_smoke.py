"""The V3.2 recipe end to end on the smoke config: every stage's artifacts, skip on rerun, --from-stage, and a report
whose table is recomputed here from the stored eval files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentgym.app.cli import app
from agentgym.passk import wilson_interval
from agentgym.app.recipe.config import load_recipe, parse_recipe
from agentgym.app.recipe.pipeline import run_recipe
from agentgym.rl.config import ConfigError

SMOKE = Path(__file__).resolve().parents[2] / "configs" / "recipe_smoke.yaml"
PNG = b"\x89PNG\r\n\x1a\n"


def smoke_config():
    return load_recipe(SMOKE).model_copy(update={"progress": False})


def expected_table(run: Path, domains: list[str]) -> dict[str, dict[str, tuple[float, float, float, int]]]:
    """{domain|all: {column: (mean, low, high, n)}} straight from the eval.json files (0/1 rewards: Wilson)."""
    sources = {"base": "base", "cold_start": "cold_start", "rpt": "rpt", "generalist": "distill", "final": "mixed"}
    pooled: dict[str, list[float]] = {}
    out: dict[str, dict[str, tuple[float, float, float, int]]] = {}
    for d in domains:
        out[d] = {}
        for column in ("base", "cold_start", "rpt", "specialist", "generalist", "final"):
            path = run / "specialists" / d / "eval.json" if column == "specialist" else run / sources[column] / "eval.json"
            scores = json.loads(path.read_text())[d]
            values = [x for env in scores.values() for x in env]
            assert set(values) <= {0.0, 1.0}
            out[d][column] = (sum(values) / len(values), *wilson_interval(len(values), int(sum(values))), len(values))
            pooled.setdefault(column, []).extend(values)
    out["all"] = {c: (sum(v) / len(v), *wilson_interval(len(v), int(sum(v))), len(v)) for c, v in pooled.items()}
    return out


@pytest.mark.slow
def test_smoke_recipe_runs_every_stage_skips_on_rerun_and_restarts_from_a_stage(tmp_path):
    config = smoke_config()
    domains = list(config.domains)
    run = tmp_path / "run"
    result = run_recipe(config, run)
    assert result.ran == ["base", "cold_start", "rpt", "specialists", "distill", "mixed", "report"]

    # every stage produced its artifacts, and its done marker
    for stage in result.ran:
        assert json.loads((run / stage / "stage.json").read_text())["done"] is True
    for stage in ("cold_start", "rpt", "distill", "mixed"):
        assert (run / stage / "model.safetensors").stat().st_size > 0
    for stage in ("base", "cold_start", "rpt", "distill", "mixed"):
        assert set(json.loads((run / stage / "eval.json").read_text())) == set(domains)
    for d in domains:
        specialist = run / "specialists" / d
        assert (specialist / "stage.json").is_file() and (specialist / "model.safetensors").is_file()
        assert set(json.loads((specialist / "eval.json").read_text())) == {d}
        assert len((specialist / "train" / "metrics.jsonl").read_text().splitlines()) == config.domains[d].steps
    mixed_steps = [json.loads(x) for x in (run / "mixed" / "train" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in mixed_steps] == list(range(config.mixed.steps))
    summary = json.loads((run / "distill" / "summary.json").read_text())
    kept = sum(c["kept"] for counts in summary["counts"].values() for c in counts.values())
    samples = sum(len((run / "distill" / "samples" / f"{d}.jsonl").read_text().splitlines()) for d in domains)
    assert summary["num_examples"] == kept == samples > 0 and len(summary["losses"]) >= 1
    assert {k.split("/")[1] for counts in summary["counts"].values() for k in counts} == {"direct", "thinking"}

    # the report: complete and equal to what the stored eval files say
    report = json.loads((run / "report" / "report.json").read_text())
    assert report["columns"] == ["base", "cold_start", "rpt", "specialist", "generalist", "final"]
    assert list(report["rows"]) == [*domains, "all"]
    expected = expected_table(run, domains)
    markdown = (run / "report" / "report.md").read_text()
    for row, cells in expected.items():
        assert set(report["rows"][row]) == set(report["columns"])
        line = next(x for x in markdown.splitlines() if x.startswith((f"| {row} |", f"| **{row}** |")))
        for column, (mean, low, high, n) in cells.items():
            got = report["rows"][row][column]
            assert (got["mean"], got["low"], got["high"], got["n"]) == pytest.approx((mean, low, high, n))
            assert f"{mean:.3f} [{low:.3f}, {high:.3f}] (n={n})" in line
    for curve in ["rpt", *(f"specialist_{d}" for d in domains), "mixed"]:
        assert (run / "report" / "curves" / f"{curve}.png").read_bytes()[:8] == PNG
        assert f"(curves/{curve}.png)" in markdown

    # the CLI shows the stages and publishes the report (rebuilt from the stored files, curves beside it)
    status = CliRunner().invoke(app, ["recipe", "status", str(run)])
    assert status.exit_code == 0 and status.output.count("done") == len(result.ran)
    published = tmp_path / "results" / "recipe.md"
    export = CliRunner().invoke(app, ["recipe", "report", str(run), "--out", str(published)])
    assert export.exit_code == 0, export.output
    text = published.read_text()
    assert text.split("## Reward curves")[0] == markdown.split("## Reward curves")[0]
    assert (published.parent / "recipe_curves" / "mixed.png").read_bytes()[:8] == PNG
    exported = json.loads(published.with_suffix(".json").read_text())
    assert "(recipe_curves/mixed.png)" in text and exported["rows"] == report["rows"]
    assert "recipe_curves/mixed.png" in exported["curves"]

    # a rerun skips every finished stage and touches nothing
    markers = {p: p.stat().st_mtime_ns for p in run.rglob("stage.json")}
    again = run_recipe(config, run)
    assert again.ran == [] and again.skipped == result.ran
    assert {p: p.stat().st_mtime_ns for p in run.rglob("stage.json")} == markers

    # --from-stage redoes that stage and the later ones only
    redo = run_recipe(config, run, from_stage="mixed")
    assert redo.ran == ["mixed", "report"] and redo.skipped == ["base", "cold_start", "rpt", "specialists", "distill"]
    assert (run / "base" / "stage.json").stat().st_mtime_ns == markers[run / "base" / "stage.json"]
    assert (run / "mixed" / "stage.json").stat().st_mtime_ns != markers[run / "mixed" / "stage.json"]
    assert json.loads((run / "report" / "report.json").read_text())["rows"].keys() == report["rows"].keys()

    # a different config on the same run directory is refused unless a stage is redone
    changed = config.model_copy(update={"seed": 1})
    with pytest.raises(ConfigError, match=r"different config \(changed: seed\)"):
        run_recipe(changed, run)


def test_bad_keys_get_one_line_naming_them():
    with pytest.raises(ConfigError, match=r"^recipe: domains.arith.stepz: unknown key$"):
        parse_recipe({"domains": {"arith": {"envs": [{"name": "arith"}], "stepz": 3}}})
    with pytest.raises(ConfigError, match=r"domains.arith: optim.lrr: unknown key"):
        parse_recipe({"domains": {"arith": {"envs": [{"name": "arith"}], "train": {"optim": {"lrr": 1}}}}})
    with pytest.raises(ConfigError, match=r"env 'arith' is already in domain 'a'"):
        parse_recipe({"domains": {"a": {"envs": [{"name": "arith"}]}, "b": {"envs": [{"name": "arith"}]}}})
    with pytest.raises(ConfigError, match=r"rpt.env.kwargs: env 'rpt' has other kwargs in domain 'r'"):
        parse_recipe({"rpt": {"env": {"name": "rpt", "kwargs": {"max_turns": 2}}},
                      "domains": {"r": {"envs": [{"name": "rpt"}]}}})
    with pytest.raises(ConfigError, match=r"distill.modes.0: Input should be 'direct' or 'thinking'"):
        parse_recipe({"domains": {"a": {"envs": [{"name": "arith"}]}}, "distill": {"modes": ["fast"]}})
    with pytest.raises(ConfigError, match=r"^recipe: model: Value error, checkpoint is set by each stage"):
        parse_recipe({"domains": {"a": {"envs": [{"name": "arith"}]}}, "model": {"checkpoint": "w.safetensors"}})


def test_mixed_weights_split_each_domain_share_over_its_envs_and_carry_its_beta():
    config = parse_recipe({"domains": {
        "math": {"envs": [{"name": "arith", "weight": 3}, {"name": "jupyter", "weight": 1}], "weight": 2,
                 "kl_beta": 0.0},
        "chat": {"envs": [{"name": "general"}], "weight": 1, "kl_beta": 0.1}}})
    mix = {e.name: (e.weight, e.kl_beta) for e in config.mixed_envs()}
    assert mix == {"arith": (1.5, 0.0), "jupyter": (0.5, 0.0), "general": (1.0, 0.1)}


def test_cli_reports_config_mistakes_as_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("domains:\n  arith:\n    envs: [{name: arith}]\n    kl_betta: 0.1\n")
    result = CliRunner().invoke(app, ["recipe", "v32", str(bad), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "domains.arith.kl_betta: unknown key" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()
    result = CliRunner().invoke(app, ["recipe", "v32", str(SMOKE), "--from-stage", "polish"])
    assert result.exit_code == 2 and "unknown stage 'polish'; stages: base, cold_start, rpt" in result.output
    result = CliRunner().invoke(app, ["recipe", "report", str(tmp_path), "--out", str(tmp_path / "r.md")])
    assert result.exit_code == 2 and "is not a recipe run directory" in result.output
