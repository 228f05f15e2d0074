"""Whether the agent on a computer still works: its heartbeats, and its progress.

SSH keep-alives only prove that the computer's sshd answers. The agent's
process can be frozen (SIGSTOP, a suspended container) while sshd still
answers, or its work thread blocked in a read that never returns (a hung
NFS mount) while the process lives. So the agent sends a heartbeat of its
own every few seconds (``H`` frames, from a thread of their own), each with
a counter its work moves on and whether the work waits for the server.

The computer is given up after ``silence_s`` (``AGENT_JOBS_SSH_STALL_S``,
default 30 s) without a heartbeat (the whole process stopped), or without
progress (heartbeats say it works on a request, yet its counter stays and
no data arrives). Time during which the server itself holds the agent back
(its inbox full, so it reads nothing) does not count."""
from __future__ import annotations

import os
import time
from collections.abc import Callable

STALL_S = 30.0                       # the README's promise
STALL_ENV = "AGENT_JOBS_SSH_STALL_S"  # shorter in tests
HEARTBEAT_MAX_S = 5.0                # the agent's heartbeat, at most this far apart


def stall_s() -> float:
    """The silence after which a computer's agent is given up."""
    raw = os.environ.get(STALL_ENV, "")
    try:
        value = float(raw) if raw else STALL_S
    except ValueError:
        value = STALL_S
    return value if value > 0 else STALL_S


def heartbeat_every(silence_s: float) -> float:
    """How often the agent sends a heartbeat: several per allowed silence."""
    return min(HEARTBEAT_MAX_S, silence_s / 6)


class Watchdog:
    """Times of the agent's last sign of life and of its last progress.

    Called from the SSH loop only (no lock)."""

    def __init__(self, silence_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.silence_s = silence_s
        self.clock = clock
        now = clock()
        self._heard = now        # any frame (a heartbeat, or the work's output)
        self._moved = now        # progress: output, a new counter, or waiting for us
        self._counter: int | None = None
        self._paused = False

    def output(self) -> None:
        """The agent's work sent something (a reply, records, data)."""
        self._heard = self._moved = self.clock()

    def heartbeat(self, counter: int, waiting: bool) -> None:
        now = self.clock()
        self._heard = now
        if waiting or counter != self._counter:
            self._moved = now
        self._counter = counter

    def pause(self) -> None:
        """The server stopped reading (its inbox is full): the agent is held back."""
        self._paused = True

    def resume(self) -> None:
        now = self.clock()
        self._paused = False
        self._heard = self._moved = now

    def overdue(self) -> str | None:
        """Why the agent is given up ("heartbeat" or "progress"), or None."""
        if self._paused:
            return None
        now = self.clock()
        if now - self._heard > self.silence_s:
            return "heartbeat"
        if now - self._moved > self.silence_s:
            return "progress"
        return None
