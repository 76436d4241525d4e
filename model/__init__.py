"""The embedded transformer, loaders, tokenizer, rollout engine and kernels. Imports nothing else from agentgym."""
