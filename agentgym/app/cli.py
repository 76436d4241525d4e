"""The `agentgym` command line: the root Typer app, which mounts the command groups of the `*_cli` modules.

Each command module imports the library it drives inside its commands, so `agentgym envs list` never imports torch.
User mistakes (`AgentGymError`) print one clear line and exit with code 2, never a traceback (`app.console.friendly`).
"""

from __future__ import annotations

import os

# The engine generates in a worker thread while the trainer computes in the main one: with libgomp's default wait
# (spin 300,000 rounds before sleeping) the two OpenMP teams spin against each other on a busy box (an update ran
# 2-3x slower), while never spinning (OMP_WAIT_POLICY=PASSIVE) makes every small parallel op pay a wake-up (decode
# steps 16% slower, 8-bit AdamW 3x). A short spin keeps both fast (benchmarks/RESULTS.md). It must be set before
# torch loads libgomp; a wait policy or spin count the user set wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import typer  # noqa: E402 - after the OpenMP setting above

from agentgym.app import (  # noqa: E402
    docker_cli,
    envs_cli,
    eval_cli,
    model_cli,
    recipe_cli,
    rollout_cli,
    search_cli,
    serve_cli,
    synth_cli,
    train_cli,
)
from agentgym.app.console import console, err_console  # noqa: E402, F401 - the consoles tests widen

app = typer.Typer(help="agentgym: agentic environments, task synthesis and mixed-GRPO training.",
                  no_args_is_help=True, pretty_exceptions_show_locals=False, add_completion=False)
app.add_typer(envs_cli.envs_app, name="envs")
app.add_typer(envs_cli.tasks_app, name="tasks")
app.add_typer(synth_cli.synth_app, name="synth")
app.add_typer(model_cli.model_app, name="model")
app.add_typer(search_cli.search_app, name="search")
app.add_typer(docker_cli.docker_app, name="docker")
app.command("rollout")(rollout_cli.rollout)
app.command("quickstart")(train_cli.quickstart)
app.command("eval")(eval_cli.eval_)
app.command("report")(eval_cli.report)
app.command("compare")(eval_cli.compare)
app.command("show")(eval_cli.show)
app.command("train")(train_cli.train)
app.command("sft")(train_cli.sft)
app.command("generate")(model_cli.generate)
app.command("filter")(synth_cli.filter_)
app.add_typer(recipe_cli.recipe_app, name="recipe")
app.command("serve")(serve_cli.serve)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
