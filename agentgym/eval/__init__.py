"""Evaluation: pass@k and pass^k, per-env reports with plots, run comparison, and a transcript viewer."""

from agentgym.passk import pass_at_k, pass_hat_k
from agentgym.eval.runner import EvalConfig, run_eval

__all__ = ["EvalConfig", "pass_at_k", "pass_hat_k", "run_eval"]
