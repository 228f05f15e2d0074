"""A session's hold gate: *Pause* holds every computer in flight at its next chunk
boundary, *Resume* lets them go on where they stopped.

The task threads call :meth:`HoldGate.check` at every chunk (and file) boundary; while the
session is paused the call parks the thread (a cancel-aware wait, like the throttle's), after
the thread's ``on_hold`` callback made what it has sent durable (the writer's packs and an
index checkpoint, and the task's list of completed files). An immediate stop ends the wait at
once (the caller then sees the cancel and raises); Resume and a graceful stop release it.

``interrupt`` is set while paused or cancelled: the throttle waits on it, so a pause during a
throttle wait takes effect at once too. Pause-to-held latency is measured per pause: the time
from :meth:`pause` until every computer in flight is parked (``held_latency_s``).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from time import monotonic


class HoldGate:
    def __init__(self, cancel: threading.Event) -> None:
        """``cancel``: the session's immediate-stop event. The task threads say when
        they take a computer and when they are done with it (:meth:`enter`,
        :meth:`leave`): the gate counts the parked ones against those in flight."""
        self.cancel = cancel
        self._in_flight = 0
        self._cond = threading.Condition()
        self._paused = False
        self._held = 0
        self._paused_at: float | None = None
        self.held_latency_s: float | None = None   # the last pause's pause-to-held time
        # the last pause's time until every computer in flight stopped reading (reached
        # its gate; making what it sent durable comes after)
        self.stopped_latency_s: float | None = None
        self._reached = 0
        self.interrupt = threading.Event()   # set while paused or cancelled
        self.on_all_held: Callable[[], None] | None = None   # every computer parked

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    @property
    def pausing(self) -> bool:
        """Paused, read without the lock (the hot path asks it per read)."""
        return self._paused

    @property
    def held(self) -> int:
        with self._cond:
            return self._held

    def pause(self) -> bool:
        """Hold the computers at their next chunk boundary; False if already paused."""
        with self._cond:
            if self._paused:
                return False
            self._paused = True
            self._paused_at = monotonic()
            self.held_latency_s = self.stopped_latency_s = None
            self.interrupt.set()
            self._cond.notify_all()
        self.settled()
        return True

    def resume(self) -> bool:
        """Let the parked computers go on; False if not paused."""
        with self._cond:
            if not self._paused:
                return False
            self._paused = False
            if not self.cancel.is_set():
                self.interrupt.clear()
            self._cond.notify_all()
        return True

    def cancelled(self) -> None:
        """The session was stopped immediately: wake every parked thread and throttle wait."""
        with self._cond:
            self.interrupt.set()
            self._cond.notify_all()

    def enter(self) -> None:
        """A task thread took a computer (it is in flight)."""
        with self._cond:
            self._in_flight += 1

    def leave(self) -> None:
        """A task thread is done with its computer."""
        with self._cond:
            self._in_flight -= 1
        self.settled()

    def wait_open(self) -> None:
        """Before a task thread takes its next computer: wait while paused (no new
        computer starts during a pause); an immediate stop ends the wait."""
        with self._cond:
            while self._paused and not self.cancel.is_set():
                self._cond.wait(0.5)

    def all_held(self) -> bool:
        with self._cond:
            return self._paused and self._held >= self._in_flight

    def settled(self) -> None:
        """A computer left the flight (it ended) or reached the gate: while paused, the
        session is held once every computer still in flight is parked."""
        with self._cond:
            if not self._paused or self._held < self._in_flight:
                return
            if self.held_latency_s is None and self._paused_at is not None:
                self.held_latency_s = monotonic() - self._paused_at
            callback = self.on_all_held
        if callback is not None:
            callback()

    def check(self, on_hold: Callable[[], None] | None = None) -> None:
        """At a chunk boundary: return at once unless paused; else run ``on_hold`` (make
        what was sent durable), park until Resume, a graceful stop or an immediate stop."""
        if not self._paused:   # the hot path: one attribute read per chunk
            return
        if self.cancel.is_set():
            return
        with self._cond:
            if not self._paused:
                return
            self._reached += 1   # this computer reads nothing more
            if self.stopped_latency_s is None and self._reached >= self._in_flight and \
                    self._paused_at is not None:
                self.stopped_latency_s = monotonic() - self._paused_at
        try:
            if on_hold is not None:
                on_hold()
            with self._cond:
                if not self._paused:
                    return
                self._held += 1
            try:
                self.settled()
                with self._cond:
                    while self._paused and not self.cancel.is_set():
                        self._cond.wait(0.5)
            finally:
                with self._cond:
                    self._held -= 1
        finally:
            with self._cond:
                self._reached -= 1
