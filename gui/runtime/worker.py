"""Runs facade calls off the GUI thread and brings their results back.

Every call goes to a private :class:`QThreadPool`. The outcome travels back
through a queued signal of :class:`TaskRunner`, which lives on the GUI
thread, so callbacks always run on the GUI thread and never block it.
"""
from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal


log = logging.getLogger(__name__)

ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


@dataclass(frozen=True)
class _Pending:
    on_result: ResultCallback | None
    on_error: ErrorCallback | None


class _Call(QRunnable):
    def __init__(self, runner: TaskRunner, task_id: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._runner = runner
        self._task_id = task_id
        self._fn = fn

    def run(self) -> None:  # worker thread
        try:
            value: Any = self._fn()
            ok = True
        except BaseException as exc:  # delivered to the GUI thread as data
            value, ok = exc, False
        self._runner._deliver(self._task_id, ok, value)


class TaskRunner(QObject):
    """Submit callables; get their results or exceptions on the GUI thread."""

    failed = Signal(object)   # an exception nobody handled (no on_error given)
    idle = Signal()           # the last pending call has finished

    _finished = Signal(int, bool, object)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 4) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._finished.connect(self._dispatch, Qt.ConnectionType.QueuedConnection)

    def submit(self, fn: Callable[[], Any], on_result: ResultCallback | None = None,
               on_error: ErrorCallback | None = None) -> None:
        if self._closed:
            return
        task_id = next(self._ids)
        self._pending[task_id] = _Pending(on_result, on_error)
        self._pool.start(_Call(self, task_id, fn))

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Drop callbacks of calls still running and wait for the pool to drain."""
        with self._lock:
            self._closed = True
        self._pending.clear()
        return self._pool.waitForDone(timeout_ms)

    # -- worker thread ----------------------------------------------------------
    def _deliver(self, task_id: int, ok: bool, value: object) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                self._finished.emit(task_id, ok, value)
            except RuntimeError:  # the runner's C++ object is already gone
                pass

    # -- GUI thread --------------------------------------------------------------
    def _dispatch(self, task_id: int, ok: bool, value: object) -> None:
        pending = self._pending.pop(task_id, None)
        if pending is None:
            return
        try:
            if ok:
                if pending.on_result is not None:
                    pending.on_result(value)
            else:
                assert isinstance(value, BaseException)
                if pending.on_error is not None:
                    pending.on_error(value)
                else:
                    self.failed.emit(value)
        except Exception as exc:  # a callback bug must not kill the event loop
            log.exception("callback of a background call failed")
            self.failed.emit(exc)
        finally:
            if not self._pending:
                self.idle.emit()
