"""Built-in environment plugins, registered through the `agentgym.envs` entry points."""
