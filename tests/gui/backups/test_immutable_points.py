"""Backups > Disk shows the points retention dropped whose data an immutable S3
repository still keeps: a greyed row under their computer, "Kept by immutability
until DATE", that takes no command; it goes once the lock has expired and a prune
deleted the data. Real server, real SeaweedFS bucket with Object Lock."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pydantic import SecretStr
from pytestqt.qtbot import QtBot

from core.api import BackupApi, RepositorySpec
from core.server.runtime import ServerRuntime
from gui.backups.backups_model import NODE_ROLE, RETAINED_STATE, retained_text
from gui.shell.main_window import MainWindow
from gui.widgets.formatting import datetime_text

from tests.conftest import wait_until
from tests.gui.backups.test_backups import open_backups
from tests.gui.conftest import JobFactory
from tests.support.seaweed import SeaweedS3

WAIT_MS = 15_000
LOCK_S = 3     # the lock of this test's objects, in seconds, to see one end


def test_a_point_kept_by_immutability_shows_until_its_lock_ends(
        qtbot: QtBot, window: MainWindow, service: BackupApi, server: ServerRuntime,
        make_job: JobFactory, seaweed: SeaweedS3, locked_s3_url: str, tmp_path: Path) -> None:
    service.add_repository(RepositorySpec(
        name="Vault", url=locked_s3_url, insecure_no_encryption=True,
        access_key_id=seaweed.access_key, secret_access_key=SecretStr(seaweed.secret_key),
        immutable_days=3))
    assert server.service is not None
    ctx = server.service._ctx
    vault = ctx.pool.opened(ctx.registry.entry("Vault").id)
    assert vault is not None
    vault.backend.object_lock.period = timedelta(seconds=LOCK_S)   # type: ignore[attr-defined]
    job = make_job("Ledger", ("pc1",), repository="Vault", retain_points=1)
    source = Path(job.computers[0].path)
    service.wait_session(service.start_job("Ledger"), timeout=20)
    [dropped] = service.list_points("Ledger")
    (source / "new.bin").write_bytes(os.urandom(50_000))
    service.wait_session(service.start_job("Ledger"), timeout=20)
    [kept] = service.list_points("Ledger")
    assert kept.id != dropped.id

    [info] = [r for r in service.list_repositories() if r.name == "Vault"]
    [retained] = info.retained_points
    assert retained.id == dropped.id
    now = datetime.now(timezone.utc)
    assert now < retained.locked_until <= now + timedelta(seconds=LOCK_S + 2)

    open_backups(qtbot, window)
    view = window.backups_view
    qtbot.waitUntil(lambda: view.index_of(("retained", dropped.id)).isValid(), timeout=WAIT_MS)
    row = view.index_of(("retained", dropped.id))
    computer = view.index_of(("computer", "ledger", "pc1"))
    assert row.parent() == computer                    # under its computer, with the kept point
    assert view.index_of(("point", kept.id)).parent() == computer
    texts = [str(row.siblingAtColumn(c).data()) for c in range(8)]
    assert texts[0] == datetime_text(dropped.created, seconds=True)
    assert texts[6] == RETAINED_STATE
    assert texts[7] == retained_text(retained.locked_until)
    assert texts[7].startswith("Kept by immutability until ")
    assert datetime_text(retained.locked_until) in texts[7]
    tip = str(row.data(3))   # ToolTipRole
    assert "cannot be restored" in tip and "'Vault'" in tip
    assert computer.siblingAtColumn(2).data() == "1"   # one restore point: the kept one
    assert view.select(("retained", dropped.id))       # it takes no command
    actions = window.backup_actions
    assert not actions.restore.isEnabled()
    assert not actions.verify.isEnabled()
    assert not actions.delete.isEnabled()
    node = row.data(NODE_ROLE)
    assert node.kind == "retained"

    # once the lock has ended, the next backup's prune deletes the data: the row goes
    wait_until(lambda: datetime.now(timezone.utc) > retained.locked_until, timeout=LOCK_S + 3)
    (source / "newer.bin").write_bytes(os.urandom(50_000))
    service.wait_session(service.start_job("Ledger"), timeout=20)
    [info] = [r for r in service.list_repositories() if r.name == "Vault"]
    assert dropped.id not in {p.id for p in info.retained_points}
    window.backups.refresh()
    qtbot.waitUntil(lambda: not view.index_of(("retained", dropped.id)).isValid(),
                    timeout=WAIT_MS)
