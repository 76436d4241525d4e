"""agentgym: pluggable agentic environments, task synthesis, and mixed-GRPO training for LLM agents."""

from agentgym.api import (
    Action,
    Env,
    Message,
    Observation,
    StepResult,
    Task,
    ToolCall,
    ToolSpec,
    Trajectory,
    Turn,
    Verdict,
)
from agentgym.registry import list_envs, make, register

__version__ = "0.1.0"
list = list_envs  # noqa: A001 - `agentgym.list()` mirrors `agentgym.make()`; the builtin stays `builtins.list`

__all__ = [
    "Action",
    "Env",
    "Message",
    "Observation",
    "StepResult",
    "Task",
    "ToolCall",
    "ToolSpec",
    "Trajectory",
    "Turn",
    "Verdict",
    "list_envs",
    "make",
    "register",
]
