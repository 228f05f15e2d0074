"""Yield to production in the console: the Statistics window names the Production bottleneck
(how long it held and why), and the Stop window's time left allows for the hold and stops it
at once (a fake PSI folder holds the backup, then lets it go)."""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.agents.ssh.agent_src.backup_agent.governor import PSI_ENV
from core.api import BackupApi
from core.models import Computer, JobDefinition, SessionResult
from gui.jobs.jobs_model import Column
from gui.shell.main_window import MainWindow
from tests.gui.helpers import click_button, click_ribbon, click_row, wait_cell
from tests.support.psi import FakePsi

WAIT_MS = 30_000


@pytest.fixture
def psi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePsi]:
    fake = FakePsi(tmp_path / "psi", io=90)
    monkeypatch.setenv(PSI_ENV, str(fake.folder))
    yield fake
    fake.close()


def test_statistics_show_how_long_production_held_the_backup(
        qtbot: QtBot, window: MainWindow, service: BackupApi, psi: FakePsi,
        tmp_path: Path) -> None:
    src = tmp_path / "busy"
    src.mkdir()
    (src / "big.bin").write_bytes(bytes(range(256)) * (8 << 12))   # 8 MiB
    service.create_job(JobDefinition(name="Busy", computers=(Computer(name="b1", path=str(src)),),
                                     throttle_mbps=8, yield_to_production=True))
    sid = service.start_job("Busy")
    qtbot.waitUntil(lambda: service.get_session(sid).tasks[0].production_s >= 1.5,
                    timeout=WAIT_MS)
    window.controller.open_statistics("Busy", sid)
    dialog = window.statistics_dialog
    assert dialog is not None
    # live: while it holds, Production is the bottleneck already
    qtbot.waitUntil(lambda: dialog.summary["Bottleneck"].text().startswith("Production: held"),
                    timeout=WAIT_MS)
    psi.set(io=0)
    qtbot.waitUntil(lambda: dialog.session is not None and not dialog.session.state.is_active,
                    timeout=WAIT_MS)
    assert service.get_session(sid).result is SessionResult.SUCCESS
    text = dialog.summary["Bottleneck"].text()
    assert re.fullmatch(r"Production: held \d+\.\d s \(io pressure \d+ % > 20 %\)", text), text
    assert "Production " in dialog.summary["Bottleneck"].toolTip()
    dialog.select_row("b1")
    assert any("Yielding to production: io pressure" in line for line in dialog.log_lines())
    dialog.close()


def test_stop_window_allows_for_the_hold_and_stops_it_at_once(
        qtbot: QtBot, window: MainWindow, service: BackupApi, psi: FakePsi,
        tmp_path: Path) -> None:
    src = tmp_path / "busy"
    src.mkdir()
    (src / "big.bin").write_bytes(bytes(range(256)) * (8 << 12))
    service.create_job(JobDefinition(name="Busy", computers=(Computer(name="b1", path=str(src)),),
                                     throttle_mbps=8, yield_to_production=True))
    sid = service.start_job("Busy")
    qtbot.waitUntil(lambda: service.get_session(sid).tasks[0].production_s >= 1.5,
                    timeout=WAIT_MS)
    wait_cell(qtbot, window, "Busy", Column.STATUS, lambda t: t.startswith("Working"))
    click_row(qtbot, window, "Busy")
    click_ribbon(qtbot, window, "Stop")
    dialog = window.stop_dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: "by production: allowed for" in dialog.estimate.text(),
                    timeout=WAIT_MS)
    assert re.search(r"b1: \d+ %, .*\(held \d+ s by production: allowed for\)",
                     dialog.estimate.text()), dialog.estimate.text()
    t0 = time.monotonic()
    click_button(qtbot, dialog, "Immediately")
    qtbot.waitUntil(lambda: not service.get_session(sid).state.is_active, timeout=WAIT_MS)
    assert time.monotonic() - t0 < 1.0
    assert service.get_session(sid).result is SessionResult.FAILED
