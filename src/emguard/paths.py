"""Where emguard keeps caches and default outputs."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def emguard_home() -> Path:
    """Cache root: ``$EMGUARD_HOME`` or ``~/.cache/emguard`` (created on demand)."""
    home = Path(os.environ.get("EMGUARD_HOME", Path.home() / ".cache" / "emguard")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_runs_dir() -> Path:
    """Run folders: ``$EMGUARD_RUNS`` or ``./runs``."""
    return Path(os.environ.get("EMGUARD_RUNS", "runs"))


@contextmanager
def file_lock(path: str | Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive advisory lock (``flock``) on ``path`` (created with its folder) for the ``with`` block.

    Two processes that build the same cached thing (an organism, a study cell run by two workers of one
    study) serialize on it: the second waits, then finds the first's result and reuses it. The lock
    dies with its process, so a killed holder never leaves a stale lock behind. ``blocking=False``: do
    not wait; the block gets False when another process holds the lock (True when this one got it).
    Locks on one file do not nest, even within one process: use another file for an outer claim.
    """
    import fcntl

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
