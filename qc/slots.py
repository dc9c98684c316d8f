"""Analyses running at once, per user, on the shared server: one person cannot starve the others.

Owns a process-wide registry (Streamlit runs every browser session as a thread of one process):
`analysis_slot(owner)` is held while an analysis runs, and refuses with a sentence when the owner
already runs `MAX_ANALYSES_PER_USER`. The owner is the logged-in username, or the client address
when there are no accounts. The CLI runs one analysis per process and does not use it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from qc.errors import QCInputError

MAX_ANALYSES_PER_USER = 2

_lock = threading.Lock()
_running: dict[str, int] = {}


@contextlib.contextmanager
def analysis_slot(owner: str) -> Iterator[None]:
    """Hold one of the owner's analysis slots for the duration of the block (raises `QCInputError`
    "err.busy" when none is free; the slot is given back however the block ends)."""
    owner = owner or "local"
    with _lock:
        n = _running.get(owner, 0)
        if n >= MAX_ANALYSES_PER_USER:
            raise QCInputError("err.busy", n=n)
        _running[owner] = n + 1
    try:
        yield
    finally:
        with _lock:
            left = _running.get(owner, 1) - 1
            if left > 0:
                _running[owner] = left
            else:
                _running.pop(owner, None)


def running(owner: str) -> int:
    """How many analyses the owner runs now."""
    with _lock:
        return _running.get(owner or "local", 0)
