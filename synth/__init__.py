"""Task and environment synthesis pipelines."""
