"""The recipe's report, built only from what the stages stored: eval.json, stage.json, metrics.jsonl, summaries.

The table has one row per domain (plus `all`, pooled over domains) and one column per model: the base model, the
start checkpoints (after cold start / RPT, when run), each specialist on its own domain, the distilled generalist
and the final mixed-RL model. Each cell is the mean held-out env reward with a 95% interval: Wilson when every
reward is 0 or 1 (`agentgym.passk.wilson_interval`), a seeded percentile bootstrap otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentgym.passk import wilson_interval
from agentgym.app.recipe.stages import (
    STAGES,
    is_done,
    read_json,
    stage_status,
    write_json_atomic,
)

COLUMNS = {"base": "base", "cold_start": "cold start", "rpt": "after RPT", "specialist": "specialist (own domain)",
           "generalist": "distilled generalist", "final": "final (mixed RL)"}
"""Report column -> header."""


def interval(values: list[float]) -> dict[str, Any]:
    """Mean and 95% interval of held-out rewards (Wilson for 0/1 rewards, bootstrap otherwise)."""
    if not values:
        return {"mean": None, "low": None, "high": None, "n": 0, "method": "none"}
    n = len(values)
    if all(v in (0.0, 1.0) for v in values):
        low, high = wilson_interval(n, int(sum(values)))
        method = "wilson"
    else:
        from agentgym.eval.stats import bootstrap_mean_ci

        ci = bootstrap_mean_ci(values)
        low, high, method = ci.low, ci.high, "bootstrap"
    return {"mean": sum(values) / n, "low": low, "high": high, "n": n, "method": method}


def _scores(path: Path, domain: str) -> list[float] | None:
    if not path.is_file():
        return None
    by_env = read_json(path).get(domain)
    return None if by_env is None else [x for env in sorted(by_env) for x in by_env[env]]


def column_scores(run_dir: Path, domains: list[str]) -> dict[str, dict[str, list[float]]]:
    """{column: {domain: rewards}} for every column that has stored evaluations."""
    sources = {"base": "base", "cold_start": "cold_start", "rpt": "rpt", "generalist": "distill", "final": "mixed"}
    out: dict[str, dict[str, list[float]]] = {}
    for column in COLUMNS:
        cells = {}
        for d in domains:
            path = (run_dir / "specialists" / d / "eval.json" if column == "specialist"
                    else run_dir / sources[column] / "eval.json")
            values = _scores(path, d)
            if values is not None:
                cells[d] = values
        if cells:
            out[column] = cells
    return out


def build_table(run_dir: Path) -> dict[str, Any]:
    """The report's numbers: {"domains", "columns", "rows": {domain|"all": {column: interval}}}."""
    domains = list(read_json(run_dir / "config.json")["domains"])
    scores = column_scores(run_dir, domains)
    rows: dict[str, dict[str, Any]] = {}
    for d in domains:
        rows[d] = {c: interval(cells[d]) for c, cells in scores.items() if d in cells}
    rows["all"] = {c: interval([x for d in domains for x in cells.get(d, [])]) for c, cells in scores.items()}
    return {"domains": domains, "columns": list(scores), "rows": rows}


def _cell(value: dict[str, Any] | None) -> str:
    if not value or value["mean"] is None:
        return "–"
    return f"{value['mean']:.3f} [{value['low']:.3f}, {value['high']:.3f}] (n={value['n']})"


def _curve_records(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    from agentgym.rl.metrics import read_metrics

    runs = {"rpt": run_dir / "rpt" / "train"}
    runs.update({f"specialist {p.name}": p / "train" for p in sorted((run_dir / "specialists").glob("*"))
                 if p.is_dir()})
    runs["mixed"] = run_dir / "mixed" / "train"
    return {name: records for name, path in runs.items() if (records := read_metrics(path / "metrics.jsonl"))}


def plot_curves(curves: dict[str, list[dict[str, Any]]], out_dir: Path) -> list[Path]:
    """One PNG per GRPO run: the step's mean reward, plus one line per env in a mixed run."""
    from agentgym.errors import require

    require("matplotlib", "eval", "recipe reward curves")
    from matplotlib.figure import Figure

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, records in curves.items():
        fig = Figure(figsize=(6.0, 3.6))
        ax = fig.subplots()
        keys = ["reward_mean"] + sorted({k for r in records for k in r if k.startswith("reward/")})
        for key in keys if name == "mixed" else keys[:1]:
            points = [(r["step"], r[key]) for r in records if key in r]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3,
                    label="all" if key == "reward_mean" else key.split("/", 1)[1])
        ax.set(xlabel="step", ylabel="training reward (shaped)", title=f"{name}: GRPO reward")
        ax.grid(alpha=0.3)
        if name == "mixed":
            ax.legend(fontsize=8)
        fig.subplots_adjust(left=0.12, right=0.97, top=0.9, bottom=0.15)
        path = out_dir / f"{name.replace(' ', '_')}.png"
        fig.savefig(path, dpi=100, format="png")
        paths.append(path)
    return paths


def run_summaries(config: dict[str, Any], curves: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per GRPO run: steps done of planned (time budgets may stop a run early), first and last step's reward."""
    planned = {"rpt": (config.get("rpt") or {}).get("steps"), "mixed": config["mixed"]["steps"],
               **{f"specialist {d}": s["steps"] for d, s in config["domains"].items()}}
    return [{"run": name, "steps": len(records), "planned": planned.get(name),
             "first_reward": records[0].get("reward_mean"), "last_reward": records[-1].get("reward_mean"),
             "seconds": round(sum(r.get("step_s", 0.0) for r in records), 1)} for name, records in curves.items()]


def _beta(domain: dict[str, Any]) -> str:
    """The domain's β, or its envs' own when it sets none."""
    if domain.get("kl_beta") is not None:
        return f"{domain['kl_beta']}"
    return "/".join(sorted({f"{e['kl_beta']}" for e in domain["envs"]}))


def describe_setup(config: dict[str, Any]) -> str:
    """One paragraph: the model, the domains (envs, β, weight), the optional stages and distillation modes."""
    m = config["model"]
    model = m["pretrained"] or f"the `{m['preset']}` preset (random init)"
    trained = "all blocks" if m["trainable_layers"] is None else f"last {m['trainable_layers']} blocks"
    domains = "; ".join(f"{d} ({', '.join(e['name'] for e in s['envs'])}; β {_beta(s)}, weight {s['weight']})"
                        for d, s in config["domains"].items())
    optional = [name for name in ("cold_start", "rpt") if config.get(name)]
    d = config["distill"]
    return (f"Model: {model}, {trained} trained. Domains: {domains}. Optional stages: "
            f"{', '.join(optional) or 'none'}. Distillation: modes {', '.join(d['modes'])}, {d['num_tasks']} held-in "
            f"tasks per env × {d['num_samples']} samples, kept iff env reward ≥ {d['min_reward']}.")


def describe_split(run_dir: Path) -> tuple[str, dict[str, Any]]:
    """The held-out split of every env (``RUN/tasks/split.json``): one Markdown list, and its numbers."""
    path = run_dir / "tasks" / "split.json"
    if not path.is_file():
        return "", {}
    envs = read_json(path)["envs"]
    lines = ["Held-out sets (every evaluation plays them; training, demonstrations and distillation never see them):",
             ""] + [f"- {name}: n = {e['heldout']} held out of {e['source']}: {e['how']}" for name, e in envs.items()]
    return "\n".join(lines), envs


def render_markdown(table: dict[str, Any], status: list[dict[str, Any]], distill: dict[str, Any] | None,
                    curves: list[str], *, title: str = "DeepSeek-V3.2 recipe",
                    runs: Sequence[dict[str, Any]] = (), setup: str = "") -> str:
    """report.md: the table, the generalist-vs-specialist gaps, distillation counts, stage times, curves."""
    columns = table["columns"]
    intro = ("Held-out env reward (greedy, one sample per task), mean [95% interval] (n tasks). "
             "The specialist column scores each specialist on its own domain only.")
    lines = [f"# {title}", "", *([setup, ""] if setup else []), intro, "",
             "| domain | " + " | ".join(COLUMNS[c] for c in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for row, cells in table["rows"].items():
        name = f"**{row}**" if row == "all" else row
        lines.append(f"| {name} | " + " | ".join(_cell(cells.get(c)) for c in columns) + " |")
    if "specialist" in columns and "generalist" in columns:
        lines += ["", "Generalist − specialist (mean reward, per domain):", ""]
        for d in table["domains"]:
            s, g = table["rows"][d].get("specialist"), table["rows"][d].get("generalist")
            if s and g and s["mean"] is not None and g["mean"] is not None:
                gap = g["mean"] - s["mean"]
                verdict = "below the specialist" if gap < 0 else "matches or beats the specialist"
                lines.append(f"- {d}: {gap:+.3f} ({verdict})")
    if distill:
        lines += ["", f"Distillation: {distill.get('num_examples', 0)} kept trajectories trained the generalist."]
        for domain, counts in distill.get("counts", {}).items():
            parts = ", ".join(f"{k} {v['kept']}/{v['episodes']}" for k, v in counts.items())
            lines.append(f"- {domain}: {parts}")
    if runs:
        lines += ["", "GRPO runs (training reward = env reward + shaping, mean over the step's episodes):", "",
                  "| run | steps (planned) | reward first step | reward last step | seconds |",
                  "|---|---|---|---|---|"]
        for r in runs:
            lines.append(f"| {r['run']} | {r['steps']} ({r['planned']}) | {r['first_reward']:.3f} | "
                         f"{r['last_reward']:.3f} | {r['seconds']} |")
    lines += ["", "| stage | state | seconds |", "|---|---|---|"]
    for row in status:
        if row["stage"] != "report":
            lines.append(f"| {row['stage']} | {row['state']} | {row.get('seconds', '–')} |")
    if curves:
        lines += ["", "## Reward curves", ""] + [f"![{Path(c).stem}]({c})" for c in curves]
    return "\n".join(lines) + "\n"


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write OUT/report.md, OUT/report.json and OUT/curves/*.png (OUT: RUN/report); returns report.md."""
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "report"
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a recipe run directory (no config.json)")
    out.mkdir(parents=True, exist_ok=True)
    table = build_table(run_dir)
    status = [r for r in stage_status(run_dir) if r["stage"] in STAGES]
    distill_path = run_dir / "distill" / "summary.json"
    distill = read_json(distill_path) if distill_path.is_file() and is_done(run_dir / "distill") else None
    records = _curve_records(run_dir)
    config = read_json(run_dir / "config.json")
    runs = run_summaries(config, records)
    relative = [str(p.relative_to(out)) for p in plot_curves(records, out / "curves")]
    split_text, split = describe_split(run_dir)
    write_json_atomic(out / "report.json", {**table, "stages": status, "runs": runs, "curves": relative,
                                            "split": split,
                                            "distill": {k: v for k, v in (distill or {}).items() if k != "losses"}})
    path = out / "report.md"
    path.write_text(render_markdown(table, status, distill, relative, runs=runs,
                                         setup="\n\n".join(filter(None, [describe_setup(config), split_text]))),
                    encoding="utf-8")
    return path
