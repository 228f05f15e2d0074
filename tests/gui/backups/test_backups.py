"""The Backups > Disk node: restore points per job and computer, Restore
Files (a lazily browsed tree, to a folder or the original location), Verify
with a verdict naming the damaged files, and Delete from Disk."""
from __future__ import annotations

import os
import random
import stat
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from core.api import BackupApi
from core.models import Computer, JobDefinition, RestorePointInfo
from core.scheduling import GfsRetention
from gui.backups.backups_model import (
    NODE_ROLE, ON_DISK_COLUMN, RETENTION_COLUMN, SIZE_COLUMN, STATE_COLUMN, BackupNode,
)
from gui.widgets.formatting import bytes_text
from gui.shell.main_window import MainWindow
from gui.backups.restore_dialog import RestoreDialog

WAIT_MS = 10_000


def make_source(root: Path) -> Path:
    """Folders, files with their own modes and times, a symlink and an empty folder."""
    (root / "docs" / "2024" / "q1").mkdir(parents=True)
    (root / "empty").mkdir()
    for i in range(12):
        (root / "docs" / "2024" / "q1" / f"r{i:02d}.txt").write_bytes(os.urandom(3000 + i))
    (root / "docs" / "readme.md").write_text("read me\n" * 100)
    (root / "big.bin").write_bytes(os.urandom(2_500_000))     # several blocks
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "run.sh", 0o750)
    os.chmod(root / "docs" / "readme.md", 0o600)
    os.symlink("docs/readme.md", root / "latest")
    for n, path in enumerate(sorted(root.rglob("*"))):
        os.utime(path, ns=(1_600_000_000_000_000_000 + n * 10**9,) * 2, follow_symlinks=False)
    return root


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its kind, mode, mtime and content or target."""
    found: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            found[rel] = ("link", os.readlink(path), st.st_mtime_ns)
        elif stat.S_ISDIR(st.st_mode):
            found[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
        else:
            found[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, path.read_bytes())
    return found


def backed_up(service: BackupApi, tmp_path: Path, name: str = "Files") -> tuple[Path, str]:
    src = make_source(tmp_path / "sources" / "pc1")
    service.create_job(JobDefinition(name=name, computers=(Computer(name="pc1", path=str(src)),)))
    service.wait_session(service.start_job(name), timeout=20)
    return src, service.list_points(name)[0].id


def open_backups(qtbot: QtBot, window: MainWindow) -> None:
    tree = window.inventory.tree
    item = window.inventory.item("Backups/Disk")
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton,
                     pos=tree.visualItemRect(item).center())
    assert window.work.currentWidget() is window.backups_view
    qtbot.waitUntil(lambda: window.backups.loads > 0)


def open_restore(qtbot: QtBot, window: MainWindow, point_id: str) -> RestoreDialog:
    assert window.backups_view.select(("point", point_id))
    assert window.ribbon.isTabVisible(window.ribbon.indexOf(window.backup_page))
    assert window.backup_actions.restore.isEnabled()
    window.backup_actions.restore.trigger()
    dialog = window.restore_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.model.rowCount(dialog.model.root_index()) > 0)
    return dialog


def load_folder(qtbot: QtBot, dialog: RestoreDialog, path: str) -> None:
    model = dialog.model
    index = model.index_of(path)
    assert index.isValid(), path
    dialog.tree.expand(index)
    qtbot.waitUntil(lambda: not model.canFetchMore(model.index_of(path))
                    and model.rowCount(model.index_of(path)) > 0)


def run_restore(qtbot: QtBot, dialog: RestoreDialog) -> None:
    assert dialog.restore_button.isEnabled()
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.session is not None and not dialog.session.state.is_active,
                    timeout=WAIT_MS)


def test_the_backups_node_lists_points_with_totals(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    backed_up(service, tmp_path)
    service.wait_session(service.start_job("Files"), timeout=20)
    open_backups(qtbot, window)
    view = window.backups_view
    job = view.index_of(("job", "files", ""))
    assert job.isValid()
    node = job.data(NODE_ROLE)
    assert isinstance(node, BackupNode) and len(node.points) == 2
    siblings = [job.siblingAtColumn(c).data() for c in range(6)]
    assert siblings[:3] == ["Files", "Agent backup", "2"]
    computer = view.index_of(("computer", "files", "pc1"))
    points = [computer.model().index(r, 1, computer).data() for r in range(2)]
    assert sorted(points) == ["Full", "Increment"]


def test_restore_through_the_dialog_is_byte_identical(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    src, point_id = backed_up(service, tmp_path)
    open_backups(qtbot, window)
    dialog = open_restore(qtbot, window, point_id)
    model = dialog.model
    assert model.loads == 1   # only the computer's root folder was listed
    names = {model.index(r, 0, model.root_index()).data()
             for r in range(model.rowCount(model.root_index()))}
    assert names == {"docs", "empty", "big.bin", "run.sh", "latest → docs/readme.md"}
    assert not dialog.restore_button.isEnabled()   # nothing checked yet

    # Everything, into a new folder.
    model.check_path("")
    out = tmp_path / "restored-all"
    dialog.folder_edit.setText(str(out))
    run_restore(qtbot, dialog)
    assert dialog.session is not None and dialog.session.result is not None
    assert dialog.session.result.value == "Success", dialog.result_label.text()
    assert "Restored 15 file(s), 4 folder(s), 1 symlink(s)" in dialog.result_label.text()
    assert snapshot(out) == snapshot(src)
    dialog.close()


def test_restore_part_of_a_point_browsing_lazily(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    src, point_id = backed_up(service, tmp_path)
    open_backups(qtbot, window)
    dialog = open_restore(qtbot, window, point_id)
    load_folder(qtbot, dialog, "docs")
    load_folder(qtbot, dialog, "docs/2024")
    assert dialog.model.loads == 3   # root, docs, docs/2024: no other folder was read
    dialog.model.check_path("docs/2024")   # a folder, its content never listed: all of it
    dialog.model.check_path("run.sh")
    assert dialog.model.selected_paths() == ["docs/2024", "run.sh"]
    assert "13 file(s)" in dialog.selection_label.text()
    out = tmp_path / "restored-part"
    dialog.folder_edit.setText(str(out))
    run_restore(qtbot, dialog)
    assert dialog.session is not None and dialog.session.result is not None
    assert dialog.session.result.value == "Success", dialog.result_label.text()
    whole = snapshot(src)
    wanted = {k: v for k, v in whole.items()
              if k == "run.sh" or k == "docs/2024" or k.startswith("docs/2024/")}
    got = snapshot(out)
    assert {k: v for k, v in got.items() if k != "docs"} == wanted
    assert got["docs"][0] == "dir" and not (out / "docs" / "readme.md").exists()


def test_restore_to_the_original_location_needs_overwrite_and_keeps_other_files(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    src, point_id = backed_up(service, tmp_path)
    before = snapshot(src)
    (src / "docs" / "readme.md").write_text("changed since the backup")
    (src / "run.sh").unlink()
    (src / "new-file.txt").write_text("not in the restore point")
    window.bridge.mark_dirty()   # the jobs list gives the original location
    qtbot.waitUntil(lambda: window.model.row_of("Files") is not None)
    open_backups(qtbot, window)
    dialog = open_restore(qtbot, window, point_id)
    dialog.model.check_path("")
    dialog.to_original.setChecked(True)
    assert str(src) in dialog.to_original.text()
    assert not dialog.restore_button.isEnabled()   # the overwrite needs confirming
    dialog.overwrite.setChecked(True)
    run_restore(qtbot, dialog)
    assert dialog.session is not None and dialog.session.result is not None
    assert dialog.session.result.value == "Success", dialog.result_label.text()
    after = snapshot(src)
    assert after.pop("new-file.txt")[3] == b"not in the restore point"   # never deleted
    assert after == before


def test_verify_names_the_damaged_file_of_a_corrupted_pack(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    src = tmp_path / "sources" / "one"
    src.mkdir(parents=True)
    (src / "ledger.db").write_bytes(os.urandom(200_000))   # the one file with data
    service.create_job(JobDefinition(name="Ledger",
                                     computers=(Computer(name="acct1", path=str(src)),)))
    service.wait_session(service.start_job("Ledger"), timeout=20)
    point: RestorePointInfo = service.list_points("Ledger")[0]
    # the data pack first (the other, small one holds the entry blob: manifest format 3)
    packs = sorted((service.data_dir / "repositories" / "default" / "packs").rglob("*.pack"),
                   key=lambda p: -p.stat().st_size)
    assert len(packs) == 2
    with open(packs[0], "r+b") as f:   # one byte in the middle of the stored data
        f.seek(packs[0].stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))

    open_backups(qtbot, window)
    assert window.backups_view.select(("point", point.id))
    window.backup_actions.verify.trigger()
    qtbot.waitUntil(lambda: window.backups.info_box is not None, timeout=WAIT_MS)
    box = window.backups.info_box
    assert box is not None and box.objectName() == "VerifyVerdict"
    assert box.icon() is QMessageBox.Icon.Warning
    assert "damaged" in box.text() and "ledger.db" in box.text()
    assert "ledger.db" in box.detailedText()
    box.close()
    # The point is marked damaged in the Backups node, and the Verify session is in History.
    qtbot.waitUntil(lambda: window.backups_view.index_of(("point", point.id))
                    .siblingAtColumn(STATE_COLUMN).data() == "Damaged", timeout=WAIT_MS)
    verifies = [s for s in service.list_sessions("Ledger") if s.type.value == "Verify"]
    assert len(verifies) == 1 and verifies[0].result is not None
    assert verifies[0].result.value == "Failed"
    assert any("ledger.db" in i.text for i in verifies[0].tasks[0].log)


def test_verify_of_a_job_reports_ok(qtbot: QtBot, window: MainWindow, service: BackupApi,
                                    tmp_path: Path) -> None:
    backed_up(service, tmp_path)
    open_backups(qtbot, window)
    assert window.backups_view.select(("job", "files", ""))
    assert not window.backup_actions.restore.isEnabled()
    window.backup_actions.verify.trigger()
    qtbot.waitUntil(lambda: window.backups.info_box is not None, timeout=WAIT_MS)
    box = window.backups.info_box
    assert box is not None and box.icon() is QMessageBox.Icon.Information
    assert box.text().startswith("Verify of Files: OK. 1 restore point(s)")


def test_delete_from_disk_after_confirmation_reports_the_space_freed(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    backed_up(service, tmp_path, "Gone")
    open_backups(qtbot, window)
    assert window.backups_view.select(("computer", "gone", "pc1"))
    assert window.backup_actions.delete.isEnabled()
    window.backup_actions.delete.trigger()
    question = window.backups.delete_question
    assert question is not None and "computer 'pc1' of job 'Gone'" in question.text()
    question.button(QMessageBox.StandardButton.No).click()
    qtbot.waitUntil(lambda: window.backups.delete_question is None)
    assert len(service.list_points("Gone")) == 1   # No keeps them

    window.backup_actions.delete.trigger()
    question = window.backups.delete_question
    assert question is not None
    question.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: window.backups.info_box is not None, timeout=WAIT_MS)
    box = window.backups.info_box
    assert box is not None and box.objectName() == "DeleteBackupsDone"
    assert box.text().startswith("Deleted 1 restore point(s) of computer 'pc1' of job 'Gone'")
    assert "MB freed" in box.text() or "KB freed" in box.text()
    assert service.list_points("Gone") == []
    qtbot.waitUntil(lambda: window.backups_view.stack.currentWidget()
                    is window.backups_view.empty)


def test_a_point_of_another_server_shows_as_imported(qtbot: QtBot) -> None:
    """Issue 19, item 4: another server's point (a shared repository) reads
    'Imported', with a tooltip saying it is restorable and kept here."""
    from datetime import datetime, timezone

    from core.models import PointType
    from gui.backups.backups_view import BackupsModel

    def point(pid: str, imported: bool) -> RestorePointInfo:
        return RestorePointInfo(id=pid, job="J", computer="pc1", session_id="s", files=1,
                                size=10, type=PointType.FULL, imported=imported,
                                created=datetime(2026, 12, 1, int(pid), tzinfo=timezone.utc))

    model = BackupsModel()
    model.set_points([point("1", True), point("2", False)])
    computer = model.index(0, 0, model.index(0, 0))
    tip = Qt.ItemDataRole.ToolTipRole
    states = {model.index(r, STATE_COLUMN, computer).data():
              model.index(r, STATE_COLUMN, computer).data(tip) or ""
              for r in range(2)}
    assert set(states) == {"Imported", "OK"}
    assert "another backup server" in states["Imported"]
    assert "another backup server" not in states["OK"]


def test_the_retention_column_shows_gfs_flags_and_follows_an_edit(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    src = make_source(tmp_path / "sources" / "g1")
    service.create_job(JobDefinition(name="GFS", computers=(Computer(name="g1", path=str(src)),),
                                     retain_points=5,
                                     gfs=GfsRetention(keep_daily=1, keep_monthly=3)))
    for _ in range(3):
        service.wait_session(service.start_job("GFS"), timeout=20)
    open_backups(qtbot, window)
    view = window.backups_view
    qtbot.waitUntil(lambda: view.index_of(("computer", "gfs", "g1")).isValid())
    # the column follows the jobs list, which may land after the points
    qtbot.waitUntil(lambda: view.index_of(("job", "gfs", "")).siblingAtColumn(
        RETENTION_COLUMN).data() == "Last 5 + 1D 3M", timeout=WAIT_MS)
    assert view.model.headerData(RETENTION_COLUMN, Qt.Orientation.Horizontal) == "Retention"

    def column() -> list[str]:   # newest first, as the tree lists them
        points = sorted(service.list_points("GFS"), key=lambda p: p.created, reverse=True)
        return [view.index_of(("point", p.id)).siblingAtColumn(RETENTION_COLUMN).data()
                for p in points]

    assert column() == ["D M", "Last", "Last"]
    newest = view.index_of(("point", max(service.list_points("GFS"),
                                         key=lambda p: p.created).id))
    tip = newest.siblingAtColumn(RETENTION_COLUMN).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Kept by: last 5, daily ") and ", monthly " in tip
    # the job now keeps fewer: the column says so before any backup removes them
    definition = service.get_job("GFS").definition
    service.update_job("GFS", definition.model_copy(update={"retain_points": 1}))
    qtbot.waitUntil(lambda: column() == ["D M", "Not kept", "Not kept"], timeout=WAIT_MS)


def _folder_size(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def test_on_disk_shows_the_space_points_really_take(
        qtbot: QtBot, window: MainWindow, service: BackupApi, tmp_path: Path) -> None:
    src = tmp_path / "sources" / "d1"
    src.mkdir(parents=True)
    words = "ledger invoice payroll journal kernel module backup restore volume".split()
    rng = random.Random(7)
    for i in range(40):   # text: it compresses
        (src / f"doc_{i:02d}.txt").write_text(" ".join(rng.choices(words, k=4000)))
    service.create_job(JobDefinition(name="Dedup", computers=(Computer(name="d1", path=str(src)),)))
    for run in range(3):
        (src / "doc_00.txt").write_text(f"changed {run}\n")   # one small change per run
        service.wait_session(service.start_job("Dedup"), timeout=20)
    open_backups(qtbot, window)
    view = window.backups_view
    assert view.model.headerData(SIZE_COLUMN, Qt.Orientation.Horizontal) == "Size"
    assert view.model.headerData(ON_DISK_COLUMN, Qt.Orientation.Horizontal) == "On disk"
    job = ("job", "dedup", "")
    qtbot.waitUntil(lambda: view.index_of(job).isValid()
                    and view.index_of(job).siblingAtColumn(ON_DISK_COLUMN).data() not in
                    ("", None), timeout=WAIT_MS)

    # The job's On disk is what the repository holds for it; Size is the source's.
    repository = service.data_dir / "repositories" / "default"
    packs = _folder_size(repository / "packs")
    usage = service.disk_usage()
    total = usage.jobs["Dedup"]
    source = _folder_size(src)
    assert view.index_of(job).siblingAtColumn(ON_DISK_COLUMN).data() == bytes_text(total)
    assert view.index_of(job).siblingAtColumn(SIZE_COLUMN).data() == bytes_text(source)
    assert 0.8 * packs <= total <= _folder_size(repository), (total, packs)
    assert total < source / 2   # compressed, and the three points share their blocks
    # Each point: the new data it added; the first holds nearly all of it.
    points = sorted(service.list_points("Dedup"), key=lambda p: p.created)
    shown = [view.index_of(("point", p.id)).siblingAtColumn(ON_DISK_COLUMN).data()
             for p in points]
    assert shown == [bytes_text(usage.points[p.id]) for p in points]
    assert usage.points[points[0].id] > 0.9 * total
    assert all(usage.points[p.id] < 0.1 * total for p in points[1:])
    assert all(view.index_of(("point", p.id)).siblingAtColumn(SIZE_COLUMN).data()
               == bytes_text(p.size) for p in points)
