"""General-agent task synthesis (DeepSeek-V3.2 style): category → DB → tools → task → consistency →
escalation → checks → dedup → store. The offline default generator is procedural; an LLM generator plugs into the same
pipeline."""

from agentgym.synth.general.drafts import EnvDraft, TaskDraft
from agentgym.synth.general.generator import Generator
from agentgym.synth.general.pipeline import Funnel, Pipeline, PipelineConfig
from agentgym.synth.general.procedural import ProceduralGenerator

__all__ = ["EnvDraft", "Funnel", "Generator", "Pipeline", "PipelineConfig", "ProceduralGenerator", "TaskDraft"]
