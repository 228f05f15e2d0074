"""Fixtures of the console's GUI tests (pytest-qt, offscreen).

The offscreen platform is set before any Qt import. The console talks to a
real backup server over its Unix socket (REST and the event stream), as in
production; the server is hosted in the test process so that timing is
controlled with ``tests.support.gate.TaskGate``: a held computer stays in
progress until the test releases it, so every stop lands exactly where the
test wants it.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

from core.models import Computer, JobDefinition  # noqa: E402
from core.api import BackupApi  # noqa: E402
from core.api.client import ServerClient  # noqa: E402
from core.server.runtime import ServerRuntime  # noqa: E402
from tests.support.gate import TaskGate  # noqa: E402
from tests.support.server import start_server, stop_server  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from gui.app import ConsoleStyle, apply_look, create_main_window  # noqa: E402
from gui.shell.main_window import MainWindow  # noqa: E402

JobFactory = Callable[..., JobDefinition]


def write_tree(root: Path, files: int = 3, size: int = 1024) -> Path:
    """A small generated directory tree: ``files`` files in two folders."""
    for i in range(files):
        folder = root / ("docs" if i % 2 else "data")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file_{i:02d}.txt").write_bytes(bytes((i * 13 + j) % 251 for j in range(size)))
    return root


@pytest.fixture
def gate() -> TaskGate:
    return TaskGate()


@pytest.fixture(autouse=True)
def settings_dir(tmp_path: Path) -> Path:
    """The console remembers its layout in a QSettings file of this test only."""
    path = tmp_path / "settings"
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(path))
    return path


@pytest.fixture
def server(tmp_path: Path, gate: TaskGate) -> Iterator[ServerRuntime]:
    runtime = start_server(tmp_path / "data", gate)
    yield runtime
    stop_server(runtime, gate)


@pytest.fixture
def service(server: ServerRuntime) -> Iterator[ServerClient]:
    """The facade the console uses: a client of the server above."""
    client = ServerClient(server.data_dir, autostart=False)
    yield client
    client.close()


def running_jobs(service: BackupApi) -> list[str]:
    return [job.name for job in service.list_jobs() if job.active_session_id]


@pytest.fixture
def make_job(service: BackupApi, tmp_path: Path) -> JobFactory:
    """Create a job whose computers are small trees under ``tmp_path``."""
    def factory(name: str, computers: tuple[str, ...] = ("pc1", "pc2", "pc3"), *,
                files: int = 3, task_slots: int = 1, **options: object) -> JobDefinition:
        comps = tuple(Computer(name=c, path=str(write_tree(tmp_path / "computers" / name / c,
                                                             files)))
                      for c in computers)
        job = JobDefinition(name=name, computers=comps, task_slots=task_slots, **options)
        service.create_job(job)
        return job

    return factory


@pytest.fixture
def window(qtbot: QtBot, service: BackupApi, gate: TaskGate) -> Iterator[MainWindow]:
    """The main window, shown. Not registered with qtbot.addWidget: pytest-qt
    would close it before this fixture's teardown has let the jobs end."""
    app = QApplication.instance()
    if isinstance(app, QApplication) and not isinstance(app.style(), ConsoleStyle):
        apply_look(app)   # the real console's look, whatever an earlier test left
    win = create_main_window(service.data_dir, service=service)
    win.show()
    qtbot.waitUntil(lambda: win.refresher.count >= 1)
    # The console opens on Home > Overview (tests/gui/overview); these tests
    # are about the jobs list, so they start where a click on Jobs leads.
    win.inventory.select("Jobs")
    yield win
    gate.release_all()
    qtbot.waitUntil(lambda: not running_jobs(service), timeout=10_000)
    win.close()
    win.shutdown()
    win.deleteLater()
