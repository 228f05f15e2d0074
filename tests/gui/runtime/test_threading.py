"""The worker pool, the event bridge's coalescing, and in-place model updates."""
from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QItemSelectionModel, QThread
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from core.events import Event, SessionChanged
from core.models import Computer, JobDefinition, JobInfo, JobStatus
from gui.runtime.bridge import EventBridge
from gui.jobs.jobs_model import Column, JobsTableModel
from gui.runtime.worker import TaskRunner

from tests.gui.helpers import jobs_table

Listener = Callable[[Event], None]


class _Publisher:
    def __init__(self) -> None:
        self.listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, event: Event) -> None:
        for listener in list(self.listeners):
            listener(event)


def test_runner_delivers_on_gui_thread(qtbot: QtBot) -> None:
    runner = TaskRunner()
    seen: list[tuple[object, bool]] = []
    worker_threads: list[bool] = []

    app = QApplication.instance()
    assert app is not None
    gui_thread = app.thread()

    def work() -> int:
        worker_threads.append(QThread.currentThread() is not gui_thread)
        return 42

    def done(value: object) -> None:
        seen.append((value, QThread.currentThread() is gui_thread))

    with qtbot.waitSignal(runner.idle):
        runner.submit(work, done)
    assert seen == [(42, True)]
    assert worker_threads == [True]

    errors: list[BaseException] = []
    with qtbot.waitSignal(runner.failed) as blocker:
        runner.submit(lambda: 1 / 0)
    assert isinstance(blocker.args[0], ZeroDivisionError)
    with qtbot.waitSignal(runner.idle):
        runner.submit(lambda: 1 / 0, on_error=errors.append)
    assert isinstance(errors[0], ZeroDivisionError)
    runner.shutdown()


def test_bridge_coalesces_a_burst_of_engine_events(qtbot: QtBot) -> None:
    publisher = _Publisher()
    bridge = EventBridge(publisher.subscribe, min_interval_ms=100)
    clock = QElapsedTimer()
    clock.start()
    refreshes: list[int] = []   # when each refresh fired, in ms
    sessions: list[tuple[str, str]] = []
    bridge.refreshDue.connect(lambda: refreshes.append(clock.elapsed()))
    bridge.sessionChanged.connect(lambda job, sid: sessions.append((job, sid)))

    def engine(batch: int) -> None:
        for i in range(125):
            publisher.publish(SessionChanged("Job", f"s{batch}-{i}"))

    for batch in range(4):   # 4 bursts of 4 threads x 125 events, the GUI loop runs between
        threads = [threading.Thread(target=engine, args=(batch,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        qtbot.waitUntil(lambda expected=(batch + 1) * 500: len(sessions) == expected)
    qtbot.waitUntil(lambda: not bridge.pending)   # the last event's refresh has fired
    # 2,000 events in 4 bursts, yet refreshes come at most once per 100 ms (timer slack aside).
    assert refreshes
    gaps = [later - earlier for earlier, later in zip(refreshes, refreshes[1:])]
    assert all(gap >= 90 for gap in gaps), gaps
    assert len(refreshes) <= 1 + refreshes[-1] // 90
    bridge.close()
    assert publisher.listeners == []


def _job(name: str, status: JobStatus = JobStatus.IDLE, progress: int = 0) -> JobInfo:
    definition = JobDefinition(name=name, computers=(Computer(name="c1", path="/nonexistent"),))
    return JobInfo(definition=definition, status=status, progress=progress)


def test_model_updates_in_place_and_keeps_selection(qtbot: QtBot) -> None:
    model = JobsTableModel()
    view, proxy = jobs_table(qtbot, model)
    resets: list[int] = []
    changed: list[int] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(lambda top, _bottom, _roles=None: changed.append(top.row()))
    model.set_jobs([_job("A"), _job("B"), _job("C")])

    row_b = proxy.mapFromSource(model.index(model.row_of("B") or 0, 0))
    view.selectionModel().select(row_b, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                 | QItemSelectionModel.SelectionFlag.Rows)
    model.set_jobs([_job("A"), _job("B", JobStatus.WORKING, 40), _job("C")])
    model.set_jobs([_job("B", JobStatus.WORKING, 55), _job("C"), _job("D")])

    assert resets == []
    assert model.index(model.row_of("B") or 0, Column.STATUS).data() == "Working 55%"
    selected = [proxy.index(i.row(), 0).data() for i in view.selectionModel().selectedRows()]
    assert selected == ["B"]
    assert [model.job_at(r).name for r in range(model.rowCount())] == ["B", "C", "D"]
    assert changed  # only dataChanged for the row that changed


def test_installed_pyside_keeps_bool_refcounts(qtbot: QtBot) -> None:
    """PySide6 6.12.0's emit() steals a reference to True at every call and
    CPython aborts after a few hundred emits; pyproject.toml excludes it."""
    import sys

    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        ping = Signal(object)

    probe = Probe()
    probe.ping.connect(lambda _value: None)
    before = sys.getrefcount(True)
    for i in range(5000):
        probe.ping.emit(i)
    assert sys.getrefcount(True) >= before - 50
