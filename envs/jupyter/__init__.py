"""The `jupyter` env: a real IPython kernel in the sandbox, tasks with verified answers, registered as a plugin."""

from agentgym.envs.jupyter.config import KernelConfig
from agentgym.envs.jupyter.env import JupyterEnv
from agentgym.envs.jupyter.kernel import ExecOutcome, KernelStartError, SandboxedKernel
from agentgym.envs.jupyter.pool import KernelPool, PoolExhausted, shared_pool
from agentgym.envs.jupyter.tasks import FAMILIES, generate_tasks

__all__ = ["FAMILIES", "ExecOutcome", "JupyterEnv", "KernelConfig", "KernelPool", "KernelStartError", "PoolExhausted",
           "SandboxedKernel", "generate_tasks", "shared_pool"]
