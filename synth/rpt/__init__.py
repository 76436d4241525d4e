"""RPT (Reinforcement Pre-Training) task synthesis: hard next-token positions of a corpus under a proxy model."""

from agentgym.synth.rpt.corpus import Document, corpus_fingerprint, folder_corpus, load_corpus, python_docs_corpus
from agentgym.synth.rpt.generate import RptTaskConfig, generate_tasks
from agentgym.synth.rpt.proxy import BigramProxy, NextTokenProxy, ScoredText

__all__ = ["BigramProxy", "Document", "NextTokenProxy", "RptTaskConfig", "ScoredText", "corpus_fingerprint",
           "folder_corpus", "generate_tasks", "load_corpus", "python_docs_corpus"]
