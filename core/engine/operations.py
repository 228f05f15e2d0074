"""Restores and verifies as recorded sessions.

A restore or a verify runs in the server like a backup session does: it has
a session in the catalogue (``type`` Restore or Verify) with tasks, a log,
progress and a result, its changes reach every client as ``SessionChanged``
events, and it can be cancelled (``BackupService.cancel_session``). One
:class:`OperationRunner` runs one such session on its own thread.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from time import monotonic

from core.catalogue import Catalogue
from core.engine.thread import SessionThread
from core.errors import ConsoleError
from core.events import EventBus, SessionChanged
from core.models import (
    LogItem, SessionInfo, SessionResult, SessionState, StopMode, TaskStatus, utcnow,
)

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.25


def _kind(exc: BaseException) -> str:
    """The nearest class of core.errors, so a client raises the same kind."""
    from core import errors

    for cls in type(exc).__mro__:
        name: str = cls.__name__   # before ``is`` narrows cls to getattr's Any
        if getattr(errors, name, None) is cls:
            return name
    return "ConsoleError"


class OperationCancelled(ConsoleError):
    """Raised by ``OperationRunner.check`` once the session was cancelled."""


class OperationRunner(SessionThread):
    """Runs ``work(runner)`` as the session ``session`` (already created in the
    catalogue). ``work`` reports progress with :meth:`progress`, writes the
    log with :meth:`note` and :meth:`task_note`, fills ``session.operation``,
    and returns the result; raising ends the session Failed with the error's
    words in the log."""

    def __init__(self, catalogue: Catalogue, events: EventBus, session: SessionInfo,
                 work: Callable[[OperationRunner], SessionResult],
                 on_finished: Callable[[OperationRunner], None] | None = None) -> None:
        super().__init__(f"{session.type.value.lower()}-{session.id}")
        self._catalogue = catalogue
        self._events = events
        self.session = session
        self._work = work
        self._on_finished = on_finished
        self._lock = threading.RLock()
        self.cancel_event = threading.Event()
        self._last_flush = 0.0
        self.error: ConsoleError | None = None   # why the work failed, re-raised by callers

    # -- control -------------------------------------------------------------
    def cancel(self, by: str = "by user") -> None:
        with self._lock:
            if self.session.state is SessionState.STOPPED or self.cancel_event.is_set():
                return
            self.cancel_event.set()
            self.session.state = SessionState.STOPPING
            self.session.stop_mode = StopMode.IMMEDIATELY
            self.session.stopped_by = by
            self._note(f"Cancel requested {by}.", "warning")
        self.flush(force=True)

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        if self.cancel_event.is_set():
            raise OperationCancelled("cancelled")

    def snapshot(self) -> SessionInfo:
        with self._lock:
            return self.session.model_copy(deep=True)

    # -- reporting (work thread) ---------------------------------------------
    def _note(self, text: str, level: str = "info") -> None:
        self.session.log.append(LogItem(time=utcnow(), level=level, text=text))

    def note(self, text: str, level: str = "info") -> None:
        with self._lock:
            self._note(text, level)

    def task_note(self, index: int, text: str, level: str = "info") -> None:
        with self._lock:
            task = self.session.tasks[index]
            task.log.append(LogItem(time=utcnow(), level=level, text=text))
            if level == "warning":
                task.warnings += 1

    def update_operation(self, **values: object) -> None:
        with self._lock:
            if self.session.operation is not None:
                self.session.operation = self.session.operation.model_copy(update=values)

    def set_task(self, index: int, **values: object) -> None:
        with self._lock:
            task = self.session.tasks[index]
            for name, value in values.items():
                setattr(task, name, value)

    def progress(self, done: int, total: int) -> None:
        """The whole session's progress as ``done`` of ``total`` units; saved and
        published at most every FLUSH_INTERVAL_S."""
        with self._lock:
            self.session.progress = min(99, int(100 * done / total)) if total > 0 else 0
        self.flush()

    def flush(self, force: bool = False) -> None:
        now = monotonic()
        if not force and now - self._last_flush < FLUSH_INTERVAL_S:
            return
        self._last_flush = now
        snap = self.snapshot()
        try:
            self._catalogue.save_session(snap)
        except ConsoleError as exc:
            log.warning("could not save session %s: %s", snap.id, exc)
        except Exception:
            log.exception("could not save session %s", snap.id)
        self._events.publish(SessionChanged(snap.job, snap.id))

    # -- the session thread --------------------------------------------------
    def _run(self) -> None:
        try:
            with self._lock:
                self.session.state = SessionState.WORKING
                for task in self.session.tasks:
                    task.status = TaskStatus.IN_PROGRESS
                    task.started = utcnow()
            self.flush(force=True)
            try:
                result = self._work(self)
            except OperationCancelled:
                result = SessionResult.FAILED
            except ConsoleError as exc:
                self.error = exc
                self.note(str(exc), "error")
                self.update_operation(error=str(exc), error_kind=_kind(exc))
                result = SessionResult.FAILED
            except Exception as exc:
                log.exception("%s session %s crashed", self.session.type.value, self.session.id)
                self.error = ConsoleError(f"Internal error: {exc.__class__.__name__}: {exc}")
                self.note(str(self.error), "error")
                self.update_operation(error=str(self.error), error_kind="ConsoleError")
                result = SessionResult.FAILED
            with self._lock:
                if self.cancel_event.is_set():
                    result = SessionResult.FAILED
                    self._note(f"{self.session.type.value} cancelled "
                               f"{self.session.stopped_by or 'by user'}.", "error")
                final = {SessionResult.SUCCESS: TaskStatus.SUCCESS,
                         SessionResult.WARNING: TaskStatus.WARNING,
                         SessionResult.FAILED: TaskStatus.FAILED}
                now = utcnow()
                for task in self.session.tasks:
                    if not task.status.is_final:
                        task.status = (TaskStatus.CANCELLED if self.cancel_event.is_set()
                                       else final[result])
                    task.ended = task.ended or now
                self.session.result = result
                self.session.state = SessionState.STOPPED
                self.session.progress = 100 if result is not SessionResult.FAILED \
                    else self.session.progress
                self.session.ended = now
            self.flush(force=True)
        finally:
            self._finished.set()
            try:
                if self._on_finished is not None:
                    self._on_finished(self)
            finally:
                self._catalogue.release_thread()   # this thread's connection ends with it
