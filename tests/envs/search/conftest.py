"""The search tests share helpers in `search_fixtures.py`; with pytest's importlib mode this folder must be on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
