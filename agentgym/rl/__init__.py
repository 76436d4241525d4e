"""Mixed GRPO: advantages, rewards, sampler, rollout collector, loss, checkpoints, trainer, cold-start SFT."""

from agentgym.rl.config import ConfigError, TrainConfig, load_config, parse_config

__all__ = ["ConfigError", "TrainConfig", "load_config", "parse_config"]
