"""The repository lock keeps data safe and lets a stop through: a commit whose
lock ran out while its manifest was written keeps no point, a prune whose
lock is lost stops deleting, and a wait for the lock ends at an immediate stop
(saying who holds it meanwhile)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.errors import RepositoryError
from core.events import Event, SessionChanged
from core.models import SessionState, StopMode, TaskStatus
from core.paths import default_repository_path
from core.repository import MemoryBackend, PointMeta, Repository
from core.repository.backend import BackendError, LocalBackend
from core.repository.backend.base import BackendLock, LockCancel
from core.repository.backend.lease import LOCK_PREFIX, acquire_lease
from core.service.facade import BackupService
from tests.conftest import wait_until

BLOCK = 4096
ROOT = Path(__file__).resolve().parents[3]
LOST_COMMIT = "Lost the repository lock while committing; the restore point was not kept"


class GatedMemory(MemoryBackend):
    """A memory store that can hold one save or remove of a name prefix until
    released, fail the rewrites of lock objects (a network that is down for
    the lease only) and, with ``lease``, lock with leases as S3 does."""

    def __init__(self, lease: float | None = None) -> None:
        super().__init__("gated")
        self.lease = lease
        self.entered = threading.Event()
        self.release = threading.Event()
        self.lock_writes_fail = False
        self._gate: tuple[str, str] | None = None

    def hold_next(self, op: str, prefix: str) -> None:
        self._gate = (op, prefix)

    def _pass(self, op: str, name: str) -> None:
        if self._gate is not None and self._gate[0] == op and name.startswith(self._gate[1]):
            self._gate = None
            self.entered.set()
            assert self.release.wait(30)

    def save(self, name: str, data: bytes | bytearray | memoryview) -> None:
        if self.lock_writes_fail and name.startswith(LOCK_PREFIX):
            raise BackendError("network down (simulated)")
        self._pass("save", name)
        super().save(name, data)

    def remove(self, name: str) -> None:
        self._pass("remove", name)
        super().remove(name)

    def lock(self, *, exclusive: bool, wait: bool, cancel: LockCancel | None = None,
             purpose: str | None = None,
             on_wait: Callable[[str], None] | None = None) -> BackendLock | None:
        if self.lease is None:
            return super().lock(exclusive=exclusive, wait=wait, cancel=cancel,
                                purpose=purpose, on_wait=on_wait)
        return acquire_lease(self, exclusive=exclusive, wait=wait, lease_seconds=self.lease,
                             cancel=cancel, purpose=purpose, on_wait=on_wait)


def new_repo(store: MemoryBackend) -> Repository:
    Repository.open(store, create=True, block_size=BLOCK, pack_size=64 << 10).close()
    return Repository.open(store, workers=2)


def meta(point_id: str) -> PointMeta:
    return PointMeta(id=point_id, job="Job", computer="pc1", session_id="s", type="Full",
                     created=datetime.now(timezone.utc), parent=None)


def write_point_data(repo: Repository, point_id: str, size: int = 300_000):
    """A writer with ``size`` random bytes flushed (several packs), not committed."""
    writer = repo.begin_backup(meta(point_id))
    data = os.urandom(size)
    writer.add_file("f.bin", os.stat(__file__),
                    iter([data[i:i + BLOCK] for i in range(0, size, BLOCK)]))
    writer.flush()
    return writer


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, dict[str, object]]:
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def finished(thread: threading.Thread, result: dict[str, object]) -> dict[str, object]:
    thread.join(30)
    assert not thread.is_alive()
    return result


# -- a commit that outlives its lock --------------------------------------------------

def test_commit_keeps_no_point_when_the_lock_is_lost_while_the_manifest_is_saved() -> None:
    store = GatedMemory()
    repo = new_repo(store)
    writer = write_point_data(repo, "lostpoint")
    store.hold_next("save", "points/")
    thread, result = in_thread(writer.commit)
    assert store.entered.wait(10)               # the manifest's save is in flight
    store.lose_locks()                          # ... and the lock runs out meanwhile
    store.release.set()
    error = finished(thread, result).get("error")
    assert isinstance(error, RepositoryError) and LOST_COMMIT in str(error), result
    assert repo.point_ids() == [] and not store.exists("points/lostpoint.json.zst")
    assert not repo.prune().skipped             # the lock was released


def test_commit_racing_a_prune_that_took_its_lease_over_keeps_no_point() -> None:
    """The audit's race: the writer's lease is still held when commit checks
    it, runs out while the manifest is saved, and a prune in another process
    takes the lock over and deletes the point's packs before the save lands."""
    store = GatedMemory(lease=0.5)
    writer_repo = new_repo(store)
    prune_repo = Repository.open(store, workers=2)
    writer = write_point_data(writer_repo, "racepoint")
    store.hold_next("save", "points/")
    thread, result = in_thread(writer.commit)
    assert store.entered.wait(10)
    store.lock_writes_fail = True               # the lease can no longer be refreshed
    wait_until(lambda: not writer._lock.held, timeout=5)
    store.lock_writes_fail = False
    reports = []
    wait_until(lambda: not (r := prune_repo.prune()).skipped and not reports.append(r),
               timeout=10)
    assert reports[0].packs_deleted >= 1        # the point's data is gone
    store.release.set()                         # now the manifest's save lands
    error = finished(thread, result).get("error")
    assert isinstance(error, RepositoryError) and LOST_COMMIT in str(error), result
    with Repository.open(store, workers=2) as again:
        assert again.point_ids() == []
        assert again.verify() == []


# -- a prune that loses its lock ------------------------------------------------------

def forgotten_point(store: MemoryBackend) -> tuple[Repository, set[str]]:
    """A repository whose only point was forgotten: prune drops all its packs."""
    repo = new_repo(store)
    writer = write_point_data(repo, "gone")
    writer.commit()
    repo.forget(["gone"])
    packs = {o.name for o in store.list("packs/")}
    assert len(packs) >= 3
    return repo, packs


@pytest.mark.parametrize("lease", [None, 0.5], ids=["lock", "lease"])
def test_prune_stops_deleting_once_its_lock_is_lost(lease: float | None) -> None:
    store = GatedMemory(lease=lease)
    repo, packs = forgotten_point(store)
    store.hold_next("remove", "packs/")
    thread, result = in_thread(repo.prune)
    assert store.entered.wait(10)               # the first pack is being deleted
    if lease is None:
        store.lose_locks()
    else:
        store.lock_writes_fail = True           # the lease runs out
        wait_until(lambda: not list(store.list(LOCK_PREFIX)), timeout=5)
    store.release.set()
    error = finished(thread, result).get("error")
    assert isinstance(error, RepositoryError), result
    assert "was lost during prune" in str(error)
    left = {o.name for o in store.list("packs/")}
    assert len(left) == len(packs) - 1          # only the delete in flight happened


# -- waiting for the lock: who holds it, and a stop ends the wait -----------------------

LOCAL_HOLDER = """
import sys
from pathlib import Path
from core.repository.backend.local import LocalBackend
backend = LocalBackend(Path(sys.argv[1]))
backend.prepare(create=True)
lock = backend.lock(exclusive=True, wait=False, purpose="prune")
print("locked" if lock else "busy", flush=True)
sys.stdin.read()
"""


@contextmanager
def flock_holder(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the exclusive lock of the local repository."""
    child = subprocess.Popen([sys.executable, "-c", LOCAL_HOLDER, str(folder)], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        yield child
    finally:
        child.kill()
        child.wait()


def foreign_lease(store: MemoryBackend) -> None:
    now = datetime.now(timezone.utc) - timedelta(seconds=1)
    store.save(f"{LOCK_PREFIX}foreign", json.dumps({
        "exclusive": True, "host": "otherhost", "pid": 4242, "operation": "prune",
        "created": now.isoformat(), "refreshed": now.isoformat(), "lease_seconds": 60,
    }).encode())


def assert_wait_ends_at_cancel(lock: Callable[..., BackendLock | None]) -> list[str]:
    cancel = threading.Event()
    told: list[str] = []
    waiting = threading.Event()

    def on_wait(holder: str) -> None:
        told.append(holder)
        waiting.set()
    thread, result = in_thread(lambda: lock(exclusive=False, wait=True, cancel=cancel,
                                            purpose="backup", on_wait=on_wait))
    assert waiting.wait(10)
    cancel.set()
    t0 = time.monotonic()
    thread.join(5)
    assert time.monotonic() - t0 < 1.0 and not thread.is_alive()
    assert result == {"value": None}
    return told


def test_a_wait_for_a_flock_ends_at_cancel_and_names_the_holder(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "repo")
    with flock_holder(tmp_path / "repo") as child:
        told = assert_wait_ends_at_cancel(backend.lock)
        assert told == [f"{socket.gethostname()} (pid {child.pid}, prune or repair)"]
        assert backend.lock(exclusive=False, wait=False) is None
    with backend.lock(exclusive=False, wait=True, cancel=threading.Event()) as taken:
        assert taken.held


def test_a_wait_for_a_lease_ends_at_cancel_and_names_the_holder() -> None:
    store = MemoryBackend()
    foreign_lease(store)
    told = assert_wait_ends_at_cancel(
        lambda **kw: acquire_lease(store, lease_seconds=5, **kw))
    assert told == ["otherhost (pid 4242, prune)"]
    assert [o.name for o in store.list(LOCK_PREFIX)] == [f"{LOCK_PREFIX}foreign"]


def test_a_wait_for_the_memory_lock_ends_at_cancel() -> None:
    store = MemoryBackend()
    holder = store.lock(exclusive=True, wait=False)
    assert holder is not None
    assert len(assert_wait_ends_at_cancel(store.lock)) == 1
    holder.release()


def wait_for_note(service: BackupService, job: str, text: str,
                  timeout: float = 20) -> tuple[str, str]:
    """(session id, the task note containing ``text``), seen through the
    engine's events."""
    seen: dict[str, str] = {}
    arrived = threading.Event()

    def listener(event: Event) -> None:
        if not isinstance(event, SessionChanged) or event.job != job or arrived.is_set():
            return
        for task in service.get_session(event.session_id).tasks:
            for item in task.log:
                if text in item.text:
                    seen.update(sid=event.session_id, note=item.text)
                    arrived.set()
    unsubscribe = service.subscribe(listener)
    try:
        service.start_job(job)
        assert arrived.wait(timeout), "no task said it waits for the repository lock"
    finally:
        unsubscribe()
    return seen["sid"], seen["note"]


def stop_waiting_job(service: BackupService, job: str, sid: str):
    t0 = time.monotonic()
    service.stop_job(job, StopMode.IMMEDIATELY)
    session = service.wait_session(sid, timeout=1.0)
    stopped_after = time.monotonic() - t0
    assert session.state is SessionState.STOPPED and stopped_after < 1.0, stopped_after
    (task,) = session.tasks
    assert task.status is TaskStatus.CANCELLED
    assert sum("Waiting for the repository lock" in i.text for i in task.log) == 1
    assert service.list_points(job) == []
    return session


def test_immediate_stop_ends_a_wait_for_a_local_repository_lock(
        service: BackupService, make_job, tmp_path: Path) -> None:
    make_job("Job", computers=1)
    service.repository_point_ids()              # the data directory's repository exists
    with flock_holder(default_repository_path(tmp_path / "data")) as child:
        sid, note = wait_for_note(service, "Job", "Waiting for the repository lock")
        assert f"held by {socket.gethostname()} (pid {child.pid}, prune or repair)" in note
        stop_waiting_job(service, "Job", sid)


def test_commit_renews_the_lease_right_before_the_manifest() -> None:
    store = GatedMemory(lease=60)               # the refresh thread rewrites every 20 s
    repo = new_repo(store)
    writer = write_point_data(repo, "renewed")
    (lock_object,) = [o.name for o in store.list(LOCK_PREFIX)]
    before = json.loads(store.load(lock_object))["refreshed"]
    store.hold_next("save", "points/")
    thread, result = in_thread(writer.commit)
    assert store.entered.wait(10)
    assert json.loads(store.load(lock_object))["refreshed"] > before
    store.release.set()
    assert "error" not in finished(thread, result)
    assert repo.point_ids() == ["renewed"]


def test_a_restore_or_verify_waiting_for_a_prune_ends_at_cancel(tmp_path: Path) -> None:
    store = MemoryBackend()
    repo = new_repo(store)
    write_point_data(repo, "kept").commit()
    prune = store.lock(exclusive=True, wait=False)     # a prune holds the repository
    assert prune is not None
    try:
        thread, result = in_thread(lambda: repo.restore("kept", tmp_path / "out",
                                                        cancel=lambda: True))
        stats = finished(thread, result)["value"]
        assert stats.cancelled and stats.files == 0 and not (tmp_path / "out").exists()
        thread, result = in_thread(lambda: repo.verify(cancel=lambda: True))
        error = finished(thread, result)["error"]
        assert isinstance(error, RepositoryError) and "cancelled" in str(error)
    finally:
        prune.release()
    assert repo.verify() == []
