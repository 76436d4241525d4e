"""Code-task synthesis: inject AST bugs into real Python projects, keep those their own tests catch (SWE-smith style).

Entry points: `synthesize(SynthConfig(...))` runs the pipeline; the CLI calls it through
`agentgym.app.synth_cli.synth_code_command`.
"""

from agentgym.synth.code.mutations import OPERATORS, Mutation, find_mutations
from agentgym.synth.code.pipeline import Funnel, SynthConfig, SynthError, synthesize
from agentgym.synth.code.projects import DEFAULT_PROJECTS, ProjectSpec, resolve_project

__all__ = ["DEFAULT_PROJECTS", "OPERATORS", "Funnel", "Mutation", "ProjectSpec", "SynthConfig", "SynthError",
           "find_mutations", "resolve_project", "synthesize"]
