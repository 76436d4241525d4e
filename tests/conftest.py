"""Shared test setup: the tests folder is importable (for small helpers like the fake OpenAI server)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
