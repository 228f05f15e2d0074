"""Damaged restore points look damaged (their own icon), and Verify says which points
of the computer can be restored instead: with deduplication, every point that holds a
damaged block is damaged too, so "restore an older point" is not always possible."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.models import Computer, JobDefinition, RestorePointInfo
from gui.backups.backups_model import STATE_COLUMN
from gui.shell.main_window import MainWindow
from gui.widgets.resources import icon

from tests.gui.backups.test_backups import open_backups
from tests.gui.helpers import click_ribbon

WAIT_MS = 10_000


def three_points(service: BackupApi, tmp_path: Path) -> tuple[list[RestorePointInfo],
                                                               list[Path]]:
    """Three backups of one computer: a large file every point shares (stored once),
    and a small one that changes each time. Returns the points, oldest first, and the
    data pack each backup wrote, in the same order."""
    src = tmp_path / "sources" / "acct1"
    src.mkdir(parents=True)
    (src / "ledger.db").write_bytes(os.urandom(300_000))
    service.create_job(JobDefinition(name="Ledger",
                                     computers=(Computer(name="acct1", path=str(src)),)))
    packs_dir = service.data_dir / "repositories" / "default" / "packs"
    packs: list[Path] = []
    rows: list[Path] = []
    for n in range(3):
        (src / "today.txt").write_bytes(os.urandom(20_000 + n))
        service.wait_session(service.start_job("Ledger"), timeout=20)
        new = sorted(set(packs_dir.rglob("*.pack")) - set(packs) - set(rows),
                     key=lambda p: p.stat().st_size)
        assert len(new) == 2, new   # its data, and its entry blob (manifest format 3)
        rows.append(new[0])
        packs.append(new[1])
    points = sorted(service.list_points("Ledger"), key=lambda p: p.created)
    assert len(points) == 3
    return points, packs


def flip_byte(pack: Path, where: float) -> None:
    with open(pack, "r+b") as f:
        f.seek(int(pack.stat().st_size * where))
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


def point_icon(window: MainWindow, point: RestorePointInfo) -> QIcon:
    value = window.backups_view.index_of(("point", point.id)).data(
        Qt.ItemDataRole.DecorationRole)
    assert isinstance(value, QIcon)
    return value


def same_icon(a: QIcon, b: QIcon) -> bool:
    return a.pixmap(16, 16).toImage() == b.pixmap(16, 16).toImage()


def state(window: MainWindow, point: RestorePointInfo) -> str:
    return str(window.backups_view.index_of(("point", point.id)).siblingAtColumn(STATE_COLUMN).data())


def verify_newest(qtbot: QtBot, window: MainWindow, point: RestorePointInfo) -> QMessageBox:
    open_backups(qtbot, window)
    qtbot.waitUntil(lambda: window.backups_view.index_of(("point", point.id)).isValid())
    assert window.backups_view.select(("point", point.id))
    click_ribbon(qtbot, window, "Verify")
    qtbot.waitUntil(lambda: window.backups.info_box is not None, timeout=WAIT_MS)
    box = window.backups.info_box
    assert box is not None and box.objectName() == "VerifyVerdict"
    return box


def test_verify_names_the_older_points_that_do_not_use_the_damaged_blocks(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    (p1, p2, p3), packs = three_points(service, tmp_path)
    flip_byte(packs[2], 0.5)   # only the newest point's own data
    box = verify_newest(qtbot, window, p3)
    labels = [p.created.astimezone().strftime("%Y-%m-%d %H:%M:%S") for p in (p2, p1)]
    advice = ("Computer 'acct1' of job 'Ledger': The next backup of that computer stores "
              "good copies of the damaged blocks; meanwhile restore a point that does not "
              f"use them: {labels[0]}, {labels[1]}.")
    assert advice in box.text(), box.text()
    box.close()

    qtbot.waitUntil(lambda: state(window, p3) == "Damaged", timeout=WAIT_MS)
    assert [state(window, p) for p in (p1, p2)] == ["OK", "OK"]
    assert same_icon(point_icon(window, p3), icon("point_damaged"))
    assert same_icon(point_icon(window, p1), icon("point"))
    assert not same_icon(icon("point_damaged"), icon("point"))
    tip = window.backups_view.index_of(("point", p3.id)).data(Qt.ItemDataRole.ToolTipRole)
    assert "today.txt" in tip and f"does not use them: {labels[0]}, {labels[1]}" in tip


def test_when_every_point_shares_the_damaged_block_verify_says_none_is_intact(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    (p1, p2, p3), packs = three_points(service, tmp_path)
    flip_byte(packs[0], 0.3)   # inside the large file every point holds
    box = verify_newest(qtbot, window, p3)
    assert ("Computer 'acct1' of job 'Ledger': The next backup of that computer stores good "
            "copies of the damaged blocks; no older point can replace it: every other point "
            "of that computer (2) uses the same damaged blocks") in box.text(), box.text()
    box.close()

    # Only the newest was read, but the two older ones hold the same block: damaged too.
    qtbot.waitUntil(lambda: [state(window, p) for p in (p1, p2, p3)] == ["Damaged"] * 3,
                    timeout=WAIT_MS)
    for p in (p1, p2, p3):
        assert same_icon(point_icon(window, p), icon("point_damaged"))
    older = {p.id: p for p in service.list_points("Ledger")}[p1.id]
    assert older.damaged is not None and "ledger.db" in older.damaged
    assert "no older point can replace it" in older.damaged
