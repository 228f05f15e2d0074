"""The backup server's CPU priority.

The server runs as a background service: on a machine it shares with a
console, a burst of work (say 2,000 jobs started at once on 2 cores) took the
CPU from the console for up to 80 ms at a time. At niceness 5 the console
stayed under 35 ms in the same probe (tests/benchmarks/RESULTS.md). On an
otherwise idle machine niceness changes nothing: it only orders who runs first
when the cores are contended."""
from __future__ import annotations

import logging
import os

SERVER_NICENESS = 5

log = logging.getLogger(__name__)


def lower_priority(niceness: int) -> int:
    """Add ``niceness`` to the process's (never raising its priority); the
    resulting niceness, or the current one where that is not possible."""
    if niceness <= 0 or not hasattr(os, "nice"):
        return os.nice(0) if hasattr(os, "nice") else 0
    try:
        return os.nice(niceness)
    except OSError as exc:
        log.warning("could not lower the server's CPU priority: %s", exc)
        return os.nice(0)
