"""A partial refresh of the jobs list costs its changed jobs, not the whole list
(issue 11: select 2,000 jobs and Start, with no stall of the event loop).

Guards that count work, never time it: how many jobs are compared, which rows
are replaced and announced, whether the rows are re-sorted, and whether the
whole list is fetched (parsing 2,000 jobs holds the interpreter lock, so the
GUI thread waits, for tens of milliseconds).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.qtbot import QtBot

import gui.jobs.jobs_model
import gui.jobs.refresher
from core.models import Computer, JobDefinition, JobInfo, JobStatus
from gui.jobs.jobs_model import Column, JobsTableModel
from gui.shell.main_window import MainWindow
from gui.jobs.refresher import JobsRefresher
from gui.runtime.worker import TaskRunner
from tests.support.gate import TaskGate

from tests.gui.conftest import JobFactory
from tests.gui.helpers import wait_cell, wait_held

JOBS = 2000


def _job(i: int, status: JobStatus = JobStatus.IDLE) -> JobInfo:
    definition = JobDefinition(name=f"Job {i:04d}", description=f"group {i % 40}",
                               computers=(Computer(name=f"pc{i}", path="/nonexistent"),))
    working = status is JobStatus.WORKING
    return JobInfo(definition=definition, status=status,
                   active_session_id=f"s{i}" if working else None)


class Listing:
    """``list_jobs`` of a server holding ``jobs``; notes what each call asked for."""

    def __init__(self, jobs: Sequence[JobInfo]) -> None:
        self.jobs = {job.name: job for job in jobs}
        self.asked: list[int | None] = []   # None: the whole list; else how many names

    def __call__(self, names: Sequence[str] | None = None) -> list[JobInfo]:
        self.asked.append(None if names is None else len(names))
        if names is None:
            return list(self.jobs.values())
        return [self.jobs[n] for n in names if n in self.jobs]

    def start(self, *numbers: int) -> list[str]:
        started = [_job(i, JobStatus.WORKING) for i in numbers]
        self.jobs.update((job.name, job) for job in started)
        return [job.name for job in started]


class Spy:
    """What the model did: jobs compared, rows announced, re-sorts."""

    def __init__(self, model: JobsTableModel, monkeypatch: pytest.MonkeyPatch) -> None:
        self.compared = 0
        self.rows: list[int] = []
        self.layouts = 0
        same = gui.jobs.jobs_model._same

        def counted(a: JobInfo, b: JobInfo) -> bool:
            self.compared += 1
            return same(a, b)

        monkeypatch.setattr(gui.jobs.jobs_model, "_same", counted)
        model.dataChanged.connect(self._changed)
        model.layoutChanged.connect(lambda *_: setattr(self, "layouts", self.layouts + 1))

    def _changed(self, top: QModelIndex, bottom: QModelIndex, _roles: object = None) -> None:
        self.rows.extend(range(top.row(), bottom.row() + 1))


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.shutdown()


Loaded = tuple[JobsTableModel, Listing, JobsRefresher]


@pytest.fixture
def loaded(qtbot: QtBot, runner: TaskRunner) -> Callable[[Column], Loaded]:
    """A model holding 2,000 idle jobs, sorted by ``column``, and its refresher."""
    def load(column: Column) -> Loaded:
        model = JobsTableModel()
        model.sort(column, Qt.SortOrder.AscendingOrder)
        listing = Listing([_job(i) for i in range(JOBS)])
        refresher = JobsRefresher(listing, model, runner)
        with qtbot.waitSignal(refresher.refreshed):
            refresher.request()
        assert model.rowCount() == JOBS
        listing.asked.clear()
        return model, listing, refresher
    return load


def test_a_partial_refresh_compares_and_announces_only_the_changed_rows(
        qtbot: QtBot, loaded: Callable[[Column], Loaded],
        monkeypatch: pytest.MonkeyPatch) -> None:
    model, listing, refresher = loaded(Column.NAME)
    spy = Spy(model, monkeypatch)
    sorts = model.sorts
    names = listing.start(7, 1000, 1993)

    with qtbot.waitSignal(refresher.refreshed) as fetched:
        refresher.request_jobs(names)

    assert spy.compared == 3                       # not 2,000
    assert listing.asked == [3]                    # the three jobs, not the whole list
    assert [job.name for job in fetched.args[0]] == names
    assert spy.rows == sorted(model.row_of(n) or 0 for n in names)
    assert (spy.layouts, model.sorts) == (0, sorts)   # sorted by name: no row moves
    assert model.index(model.row_of("Job 1000") or 0, Column.STATUS).data() == "Working 0%"

    spy.compared = 0
    spy.rows.clear()
    with qtbot.waitSignal(refresher.refreshed):    # the same jobs again: nothing changed
        refresher.request_jobs(names)
    assert (spy.compared, spy.rows) == (3, [])


def test_a_partial_refresh_moves_a_row_only_when_its_sort_key_changed(
        qtbot: QtBot, loaded: Callable[[Column], Loaded],
        monkeypatch: pytest.MonkeyPatch) -> None:
    model, listing, refresher = loaded(Column.STATUS)
    spy = Spy(model, monkeypatch)
    sorts = model.sorts
    with qtbot.waitSignal(refresher.refreshed):
        refresher.request_jobs(listing.start(1500))
    assert model.sorts == sorts + 1 and spy.layouts == 1
    assert model.job_at(0).name == "Job 1500"      # Working sorts before Idle
    assert model.job_at(1).name == "Job 0000"

    listing.jobs["Job 0001"] = _job(1).model_copy(
        update={"definition": _job(1).definition.model_copy(update={"description": "new"})})
    with qtbot.waitSignal(refresher.refreshed):    # a change the Status order ignores
        refresher.request_jobs(["Job 0001"])
    assert model.sorts == sorts + 1 and spy.layouts == 1
    assert model.index(model.row_of("Job 0001") or 0, Column.DESCRIPTION).data() == "new"


def test_more_changed_jobs_than_a_request_holds_come_in_several_small_fetches(
        qtbot: QtBot, loaded: Callable[[Column], Loaded],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gui.jobs.refresher, "MAX_NAMED", 50)
    model, listing, refresher = loaded(Column.NAME)
    spy = Spy(model, monkeypatch)
    names = listing.start(*range(0, 1200, 10))     # 120 jobs

    refresher.request_jobs(names)
    qtbot.waitUntil(lambda: refresher.count == 1 + 3)

    assert listing.asked == [50, 50, 20]           # never the whole list (1.7 MB to parse)
    assert spy.compared == 120
    assert model.running_count() == 120
    assert all(model.job_at(model.row_of(n) or 0).status is JobStatus.WORKING for n in names)


def test_a_stop_request_marks_only_its_rows(
        qtbot: QtBot, loaded: Callable[[Column], Loaded],
        monkeypatch: pytest.MonkeyPatch) -> None:
    model, listing, refresher = loaded(Column.NAME)
    with qtbot.waitSignal(refresher.refreshed):
        refresher.request_jobs(listing.start(3, 4))
    spy = Spy(model, monkeypatch)

    model.mark_stopping(["Job 0003", "Job 0004"])

    assert spy.compared == 2
    assert spy.rows == [3, 4]
    assert model.index(3, Column.STATUS).data().startswith("Stopping")


def test_select_all_and_start_never_fetches_the_whole_list(
        qtbot: QtBot, window: MainWindow, gate: TaskGate, make_job: JobFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"Bulk {n}" for n in range(4)]
    for n, name in enumerate(names):
        make_job(name, (f"k{n}",), files=2)
    for name in names:
        wait_cell(qtbot, window, name, Column.STATUS, "Idle")
    offered: list[Sequence[str]] = []
    set_jobs = window.history_view.set_jobs
    monkeypatch.setattr(window.history_view, "set_jobs",
                        lambda jobs: (offered.append(jobs), set_jobs(jobs)))
    refresher = window.refresher
    full = refresher.full_fetches
    gate.hold(*(f"k{n}" for n in range(len(names))))

    window.jobs_view.table.selectAll()
    window.job_actions.start.trigger()
    for n, name in enumerate(names):
        wait_held(qtbot, gate, f"k{n}")
        wait_cell(qtbot, window, name, Column.STATUS, lambda t: t.startswith("Working"))
    qtbot.waitUntil(lambda: window.status_bar.running_label.text() == "4 jobs running")
    gate.release_all()
    for name in names:
        wait_cell(qtbot, window, name, Column.STATUS, "Idle")
    qtbot.waitUntil(lambda: not window.bridge.pending)

    assert refresher.full_fetches == full          # the start command's refresh included
    assert offered == []                           # the same jobs: History's filter stays
    assert window.status_bar.running_label.text() == "No jobs running"
    assert window.status_bar.jobs_label.text() == f"Jobs: {len(names)}"
