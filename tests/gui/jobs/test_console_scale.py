"""The console at scale (issue 11): guards that count work, never time it.

The figures themselves come from ``tests/benchmarks/bench_console.py``; these
tests keep the mechanisms that give them: progress of many jobs is one batch
of model updates and one repaint, a job's update touches its row only, the
model sorts itself (the proxy never sorts, which cost a Python call per
comparison), filtering never asks the server, progress events of running
jobs never fetch the whole jobs list again, and a selection of every job is
never walked again when the header paints.
"""
from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QCoreApplication, QEvent, QModelIndex, QObject, Qt
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from core.events import EventBus, SessionChanged
from core.models import Computer, JobDefinition, JobInfo, JobStatus
from gui.runtime.bridge import EventBridge, JobsChanges
from gui.jobs.jobs_filter import JobsFilterProxy
from gui.jobs.jobs_model import Column, Index, JobsTableModel, runs
from gui.widgets.list_table import setup_list_table
from gui.shell.main_window import MainWindow
from tests.support.gate import TaskGate

from tests.gui.conftest import JobFactory
from tests.gui.helpers import jobs_table, wait_cell, wait_held

JOBS = 2000
EVERY = 5          # every 5th job runs: 400 running jobs


def _job(i: int, status: JobStatus = JobStatus.IDLE, progress: int = 0) -> JobInfo:
    definition = JobDefinition(name=f"Job {i:04d}", description=f"group {i % 40}",
                               computers=(Computer(name=f"pc{i}", path="/nonexistent"),))
    running = status is JobStatus.WORKING
    return JobInfo(definition=definition, status=status, progress=progress,
                   active_session_id=f"s{i}" if running else None)


def _catalogue(progress: int = 0) -> list[JobInfo]:
    return [_job(i, JobStatus.WORKING, progress) if i % EVERY == 0 else _job(i)
            for i in range(JOBS)]


class _Counter(QObject):
    """Counts the events of one kind a widget receives."""

    def __init__(self, widget: QObject, kind: QEvent.Type) -> None:
        super().__init__()
        self.kind = kind
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == self.kind:
            self.count += 1
        return False


def _shown_table(qtbot: QtBot, model: JobsTableModel) -> tuple[QTableView, JobsFilterProxy]:
    view, proxy = jobs_table(qtbot, model)
    view.setSortingEnabled(True)
    view.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    return view, proxy


def test_progress_of_hundreds_of_jobs_is_one_batch_and_one_repaint(qtbot: QtBot) -> None:
    model = JobsTableModel()
    view, proxy = _shown_table(qtbot, model)
    model.set_jobs(_catalogue())
    qtbot.waitUntil(lambda: proxy.rowCount() == JOBS)
    changed: list[tuple[int, int]] = []
    batches: list[int] = []
    layouts: list[int] = []
    model.dataChanged.connect(lambda top, bottom, _roles=None: changed.append(
        (top.row(), bottom.row())))
    model.updated.connect(lambda: batches.append(1))
    model.layoutChanged.connect(lambda *_: layouts.append(1))
    model.modelReset.connect(lambda: layouts.append(1))
    paints = _Counter(view.viewport(), QEvent.Type.Paint)
    QCoreApplication.processEvents()   # deliver the first paints (posted update requests)
    paints.count = 0

    # Ten progress steps of 400 running jobs arrive before the event loop runs again.
    running = {f"Job {i:04d}": f"s{i}" for i in range(0, JOBS, EVERY)}
    for step in range(1, 11):
        model.apply_progress({name: (sid, JobStatus.WORKING, step)
                              for name, sid in running.items()})
    qtbot.waitUntil(lambda: paints.count >= 1)
    QCoreApplication.processEvents()   # any further update request already posted is painted now

    assert len(batches) == 10                     # one batch per update, not one per job
    assert len(changed) == 10                     # rows 5 apart: one range per batch
    assert changed[0] == (0, JOBS - EVERY)
    assert layouts == []                          # sorted by name: no row moved
    assert paints.count <= 2                      # the console coalesces repaints
    assert model.index(model.row_of("Job 0005") or 0, Column.STATUS).data() == "Working 10%"


def test_a_job_update_touches_only_its_own_row(qtbot: QtBot) -> None:
    model = JobsTableModel()
    _view, _proxy = _shown_table(qtbot, model)
    jobs = _catalogue()
    model.set_jobs(jobs)
    changed: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(lambda top, bottom, _roles=None: changed.append(
        (top.row(), bottom.row(), top.column(), bottom.column())))

    jobs[1234] = _job(1234, JobStatus.DISABLED)   # a full refresh where one job changed
    model.set_jobs(jobs)
    row = model.row_of("Job 1234")
    assert changed == [(row, row, 0, len(Column) - 1)]

    changed.clear()
    model.apply_progress({"Job 0010": ("s10", JobStatus.WORKING, 42)})
    row = model.row_of("Job 0010")
    assert changed == [(row, row, Column.STATUS, Column.STATUS)]

    changed.clear()
    model.apply_progress({"Job 0010": ("s10", JobStatus.WORKING, 41),     # older: ignored
                          "Job 0011": ("s11", JobStatus.WORKING, 50),     # not running
                          "Job 0015": ("other", JobStatus.WORKING, 50)})  # another session
    model.set_jobs(list(jobs[:10]) + [jobs[10].model_copy(update={"progress": 42})]
                   + list(jobs[11:]))
    assert changed == []


def test_the_model_sorts_and_the_proxy_only_filters(qtbot: QtBot) -> None:
    model = JobsTableModel()
    view, proxy = _shown_table(qtbot, model)
    model.set_jobs(_catalogue())
    sorts = model.sorts
    view.sortByColumn(Column.STATUS, Qt.SortOrder.AscendingOrder)
    assert model.sorts == sorts + 1
    assert proxy.sortColumn() == -1               # Qt's proxy sort: a Python call per comparison
    names = [proxy.index(r, Column.NAME).data() for r in range(proxy.rowCount())]
    assert names[:2] == ["Job 0000", "Job 0005"] and names[-1] == "Job 1999"

    view.sortByColumn(Column.NAME, Qt.SortOrder.DescendingOrder)
    assert proxy.index(0, Column.NAME).data() == "Job 1999"
    view.sortByColumn(Column.NAME, Qt.SortOrder.DescendingOrder)   # the same order again
    assert model.sorts == sorts + 2

    view.selectAll()
    proxy.set_search("group 7")
    assert proxy.rowCount() == JOBS // 40
    assert all("group 7" in str(proxy.index(r, Column.DESCRIPTION).data())
               for r in range(proxy.rowCount()))


def test_runs_group_neighbouring_rows() -> None:
    assert runs([]) == []
    assert runs([7, 1, 2, 30]) == [(1, 7), (30, 30)]
    assert runs([1, 2, 4], gap=1) == [(1, 2), (4, 4)]


def test_a_burst_of_events_wakes_the_gui_thread_a_few_times(qtbot: QtBot) -> None:
    bus = EventBus()
    bridge = EventBridge(bus.subscribe, min_interval_ms=100)
    due: list[JobsChanges] = []
    bridge.jobsDue.connect(due.append)

    def engine(start: int) -> None:
        for i in range(start, start + 500):
            bus.publish(SessionChanged(f"Job {i % 200:04d}", f"s{i % 200}"))

    threads = [threading.Thread(target=engine, args=(n * 500,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    qtbot.waitUntil(lambda: not bridge.pending and bool(due))
    assert bridge.wakeups <= 4                    # 2,000 events, not 2,000 queued calls
    assert len(due) == 1
    assert not due[0].full and len(due[0].sessions) == 200
    bridge.close()


def test_progress_of_a_running_job_never_refetches_the_list(
        qtbot: QtBot, window: MainWindow, gate: TaskGate, make_job: JobFactory) -> None:
    make_job("Busy", ("b1", "b2", "b3"), files=4)
    wait_cell(qtbot, window, "Busy", Column.STATUS, "Idle")
    gate.hold("b1")
    window.jobs_view.select_jobs("Busy")
    window.job_actions.start.trigger()
    wait_held(qtbot, gate, "b1")
    wait_cell(qtbot, window, "Busy", Column.STATUS, lambda t: t.startswith("Working"))
    live = window.live_jobs
    full = (window.refresher.count, live.full_requests)
    fetches = live.progress_fetches
    # The held session keeps reporting (its progress is flushed four times a second).
    qtbot.waitUntil(lambda: live.progress_fetches >= fetches + 3, timeout=10_000)
    # At most the Start command's own refresh of its job, which may land late on a
    # busy machine; three progress reports or more, and no list refetch for them.
    assert window.refresher.count - full[0] <= 1 and live.full_requests == full[1]

    # Typing in the search box filters what was fetched: the list is not asked for again.
    counts = (window.refresher.count, live.full_requests, window.history_model.pages_fetched)
    window.jobs_view.search.setText("busy")
    assert window.proxy.rowCount() == 1
    window.jobs_view.search.setText("nothing like it")
    assert window.proxy.rowCount() == 0
    window.jobs_view.search.setText("")
    assert window.proxy.rowCount() == 1
    assert (window.refresher.count, live.full_requests,
            window.history_model.pages_fetched) == counts

    gate.release_all()                            # the end of the session: one full fetch
    wait_cell(qtbot, window, "Busy", Column.STATUS, "Idle")
    assert window.refresher.count > full[0]


def test_sessions_starting_and_ending_fetch_their_jobs_not_the_whole_list(
        qtbot: QtBot, window: MainWindow, gate: TaskGate, make_job: JobFactory) -> None:
    names = [f"Many {n}" for n in range(8)]
    for n, name in enumerate(names):
        make_job(name, (f"m{n}",), files=2)
    make_job("Bystander", ("by1",), files=2)
    for name in names:
        wait_cell(qtbot, window, name, Column.STATUS, "Idle")
    gate.hold(*(f"m{n}" for n in range(len(names))))
    window.jobs_view.select_jobs(*names)
    window.job_actions.start.trigger()
    for n, name in enumerate(names):
        wait_held(qtbot, gate, f"m{n}")
        wait_cell(qtbot, window, name, Column.STATUS, lambda t: t.startswith("Working"))
    refresher = window.refresher
    full, named = refresher.full_fetches, refresher.named_fetches
    for n, name in enumerate(names):   # one ending at a time: each is its own burst
        gate.release(f"m{n}")
        wait_cell(qtbot, window, name, Column.STATUS, "Idle")
    # At most the start command's own refresh, however many sessions ended.
    assert refresher.full_fetches - full <= 1
    assert refresher.named_fetches - named >= len(names) // 2
    assert window.model.row_of("Bystander") is not None
    assert window.model.rowCount() == len(names) + 1


class _CountingModel(JobsTableModel):
    """Counts the row counts Qt asks for: one per index it makes of this model."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        self.asked += 1
        return super().rowCount(parent)


def test_painting_the_header_never_walks_a_selection_of_every_job(qtbot: QtBot) -> None:
    model = _CountingModel()
    view, proxy = jobs_table(qtbot, model)
    setup_list_table(view, widths={}, stretch=Column.DESCRIPTION, on_menu=lambda _pos: None)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    model.set_jobs(_catalogue())
    header = view.horizontalHeader()
    view.selectAll()
    assert len(view.selectionModel().selectedRows()) == JOBS
    QCoreApplication.processEvents()
    model.asked = 0

    header.viewport().repaint()    # Qt asks whether each column is wholly selected

    assert model.asked < JOBS      # not every selected row of every column (18,000)


def test_what_the_first_list_built_is_never_walked_by_the_collector_again(
        qtbot: QtBot, window: MainWindow, make_job: JobFactory) -> None:
    # a full collection over 2,000 jobs' objects cost the GUI thread 60-70 ms:
    # after the first list, the collector only walks what was made since
    make_job("Frozen", ("fr1",), files=1)
    qtbot.waitUntil(lambda: window.model.row_of("Frozen") is not None)
    assert gc.get_freeze_count() > 0
    window.shutdown()   # the window's objects may be collected again
    assert gc.get_freeze_count() == 0
