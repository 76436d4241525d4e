"""The environment-building agent (DeepSeek-V3.2 §3.2.3): a chat policy builds environments in a sandboxed work
folder through the builder env's tools; builds are checked, deduplicated and stored with their transcripts."""

from agentgym.synth.general.builder.corpus import Corpus
from agentgym.synth.general.builder.env import STAGES, BuilderConfig, BuilderEnv, BuildResult
from agentgym.synth.general.builder.runner import BuildRun, BuildRunConfig

__all__ = ["STAGES", "BuildResult", "BuildRun", "BuildRunConfig", "BuilderConfig", "BuilderEnv", "Corpus"]
