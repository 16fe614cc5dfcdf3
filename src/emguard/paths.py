"""Where emguard keeps caches and default outputs."""

from __future__ import annotations

import os
from pathlib import Path


def emguard_home() -> Path:
    """Cache root: ``$EMGUARD_HOME`` or ``~/.cache/emguard`` (created on demand)."""
    home = Path(os.environ.get("EMGUARD_HOME", Path.home() / ".cache" / "emguard")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_runs_dir() -> Path:
    """Run folders: ``$EMGUARD_RUNS`` or ``./runs``."""
    return Path(os.environ.get("EMGUARD_RUNS", "runs"))
