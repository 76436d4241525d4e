"""Search-QA synthesis: multi-hop questions built by exploring the search env through its tools, kept only when the
ground truth is verified against the corpus and every answer agent gets it wrong."""

from agentgym.synth.search.pipeline import SearchSynthConfig, SynthReport, synthesize

__all__ = ["SearchSynthConfig", "SynthReport", "synthesize"]
