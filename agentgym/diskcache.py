"""Where agentgym keeps what it builds once and reuses: search indexes, sdists, prepared virtualenvs, unpacked repos."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "AGENTGYM_CACHE"


def cache_root() -> Path:
    """``$AGENTGYM_CACHE`` when set, else ``$XDG_CACHE_HOME/agentgym`` or ``~/.cache/agentgym``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "agentgym"
