"""The S3 back end on a real SeaweedFS, and the lease locks it uses."""
from __future__ import annotations

import errno
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.repository.backend import BackendError, MemoryBackend
from core.repository.backend.lease import LOCK_PREFIX, acquire_lease, read_locks
from core.repository.backend.s3 import S3Backend, parse_s3_url
from tests.conftest import wait_until
from tests.support.seaweed import SeaweedS3, TcpRelay, relay_url, subprocess_env

LEASE = 2.0


def open_s3(server: SeaweedS3, url: str, **options: object) -> S3Backend:
    options.setdefault("lease_seconds", LEASE)
    return S3Backend.from_url(url, server.access_key, server.secret_key, **options)


@pytest.fixture
def s3(seaweed: SeaweedS3, s3_url: str) -> Iterator[S3Backend]:
    backend = open_s3(seaweed, s3_url)
    yield backend
    backend.close()


# -- URLs ----------------------------------------------------------------------

@pytest.mark.parametrize(("url", "expected"), [
    ("s3:http://127.0.0.1:8333/bucket", ("http://127.0.0.1:8333", "bucket", "")),
    ("s3:http://127.0.0.1:8333/bucket/", ("http://127.0.0.1:8333", "bucket", "")),
    ("s3:https://s3.example.com/my-bucket/backups/office",
     ("https://s3.example.com", "my-bucket", "backups/office")),
    ("s3:s3.example.com/my.bucket", ("https://s3.example.com", "my.bucket", "")),
    ("s3:http://[::1]:9000/bkt/p", ("http://[::1]:9000", "bkt", "p")),
])
def test_parse_s3_url(url: str, expected: tuple[str, str, str]) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize(("url", "problem"), [
    ("http://127.0.0.1:8333/bucket", "starts with 's3:'"),
    ("s3:ftp://host/bucket", "http or https"),
    ("s3:http://127.0.0.1:8333", "names no bucket"),
    ("s3:http://127.0.0.1:8333/", "names no bucket"),
    ("s3:http:///bucket", "names no server"),
    ("s3:http://host:99999/bucket", "bad host or port"),
    ("s3:http://host:port/bucket", "bad host or port"),
    ("s3:http://host/Bad_Bucket", "not a valid S3 bucket name"),
    ("s3:http://host/ab", "not a valid S3 bucket name"),
    ("s3:http://AKIAXYZ:hunter2@host/bucket", "Do not put credentials"),
    ("s3:http://host/bucket/a//b", "empty, '.' or '..'"),
    ("s3:http://host/bucket/../x", "empty, '.' or '..'"),
    ("s3:http://host/bucket?x=1", "'?' or '#'"),
])
def test_bad_urls_say_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace("?", r"\?")) as info:
        parse_s3_url(url)
    assert "hunter2" not in str(info.value) and "AKIAXYZ" not in str(info.value)


def test_location_and_repr_carry_no_credentials(seaweed: SeaweedS3, s3: S3Backend) -> None:
    for text in (s3.location, repr(s3), str(s3)):
        assert seaweed.secret_key not in text and seaweed.access_key not in text
    assert s3.location == f"s3:{seaweed.endpoint}/{s3.bucket}"


# -- errors ----------------------------------------------------------------------

def assert_no_credentials(server: SeaweedS3, exc: BaseException) -> None:
    texts = [str(exc), repr(exc), str(getattr(exc, "strerror", "")), *map(str, exc.args)]
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        texts += [str(cause), repr(cause)]
    for text in texts:
        assert server.secret_key not in text and "wrong-secret" not in text, text


def test_wrong_secret_is_a_clear_error(seaweed: SeaweedS3, s3_url: str) -> None:
    with pytest.raises(BackendError) as info:
        S3Backend.from_url(s3_url, seaweed.access_key, "wrong-secret")
    assert info.value.errno == errno.EACCES
    assert "denied access" in str(info.value) and "secret access key is wrong" in str(info.value)
    assert info.value.strerror == str(info.value)
    assert_no_credentials(seaweed, info.value)


def test_unknown_access_key_is_a_clear_error(seaweed: SeaweedS3, s3_url: str) -> None:
    with pytest.raises(BackendError) as info:
        S3Backend.from_url(s3_url, "AKIANOSUCHKEY", seaweed.secret_key)
    assert info.value.errno == errno.EACCES
    assert "access key ID is not known" in str(info.value)
    assert_no_credentials(seaweed, info.value)


def test_missing_bucket_is_a_clear_error_or_created(seaweed: SeaweedS3) -> None:
    url = seaweed.url("no-such-bucket-here", "repo")
    with pytest.raises(BackendError, match="bucket 'no-such-bucket-here' does not exist"):
        open_s3(seaweed, url)
    created = open_s3(seaweed, url, create_bucket=True)
    created.save("config.json", b"{}")
    assert open_s3(seaweed, url).load("config.json") == b"{}"


def test_missing_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="access key ID and a secret access key"):
        S3Backend.from_url("s3:http://127.0.0.1:9/bucket", "", "")


@pytest.fixture
def unanswering_port() -> Iterator[int]:
    """A port whose listener never accepts and whose queue is full: connection
    attempts get no answer at all, like a server behind a dead link."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in (*fillers, listener):
        sock.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]       # closed again: nobody listens there


@pytest.mark.parametrize("server", ["refusing", "silent"])
def test_unreachable_endpoint_fails_fast(server: str, request: pytest.FixtureRequest) -> None:
    port = closed_port() if server == "refusing" else request.getfixturevalue("unanswering_port")
    started = time.monotonic()
    with pytest.raises(BackendError, match="Cannot reach the S3 server at http://127.0.0.1:") \
            as info:
        S3Backend.from_url(f"s3:http://127.0.0.1:{port}/bucket", "AKIAX", "secret-x")
    assert time.monotonic() - started < 5
    assert info.value.errno == errno.EHOSTUNREACH
    assert "secret-x" not in str(info.value)


def test_server_going_away_mid_use_is_a_clear_error(seaweed: SeaweedS3, s3_url: str) -> None:
    relay = TcpRelay(("127.0.0.1", int(seaweed.endpoint.rsplit(":", 1)[1])))
    backend = open_s3(seaweed, relay_url(s3_url, relay))
    backend.save("packs/a", b"data")
    relay.cut()
    started = time.monotonic()
    with pytest.raises(BackendError, match="Cannot reach the S3 server|stopped answering"):
        backend.load("packs/a")
    assert time.monotonic() - started < 10
    with pytest.raises(BackendError, match="Cannot reach the S3 server"):
        backend.list("packs/")              # raised by the call, not later in a loop
    with pytest.raises(BackendError, match="Cannot reach the S3 server"):
        backend.save("packs/b", b"data")


def test_no_credentials_in_logs(seaweed: SeaweedS3, s3_url: str,
                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = open_s3(seaweed, s3_url)
    backend.save("a", b"x")
    backend.load("a", 0, 1)
    list(backend.list(""))
    with backend.lock(exclusive=True, wait=False):
        pass
    with pytest.raises(BackendError):
        S3Backend.from_url(s3_url, seaweed.access_key, "wrong-secret")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert seaweed.secret_key not in text and seaweed.access_key not in text
    assert "wrong-secret" not in text


# -- leases, on any store -------------------------------------------------------

def write_foreign_lock(store: MemoryBackend, *, exclusive: bool, silent_for: float,
                       pid: int = 4242) -> str:
    refreshed = datetime.now(timezone.utc) - timedelta(seconds=silent_for)
    name = f"{LOCK_PREFIX}foreign{pid}"
    store.save(name, json.dumps({
        "exclusive": exclusive, "host": "deadhost", "pid": pid,
        "created": refreshed.isoformat(), "refreshed": refreshed.isoformat(),
        "lease_seconds": 60,
    }).encode())
    return name


def test_a_live_foreign_lock_conflicts(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryBackend()
    write_foreign_lock(store, exclusive=True, silent_for=30)
    assert acquire_lease(store, exclusive=False, wait=False) is None
    assert [i.name for i in store.list(LOCK_PREFIX)] == [f"{LOCK_PREFIX}foreign4242"]
    assert "Took over" not in caplog.text


def test_an_expired_lock_is_taken_over_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryBackend()
    stale = write_foreign_lock(store, exclusive=True, silent_for=90)
    with caplog.at_level(logging.WARNING):
        lock = acquire_lease(store, exclusive=True, wait=False)
    assert lock is not None and lock.held
    assert not store.exists(stale)
    assert "deadhost (pid 4242)" in caplog.text and "not been refreshed for 90 s" in caplog.text
    lock.release()
    assert list(store.list(LOCK_PREFIX)) == []


def test_lock_object_says_who_holds_it() -> None:
    store = MemoryBackend()
    lock = acquire_lease(store, exclusive=True, wait=False, lease_seconds=7)
    assert lock is not None
    (info,) = read_locks(store)
    assert info.exclusive and info.pid == os.getpid() and info.lease_seconds == 7
    doc = json.loads(store.load(info.name))
    assert set(doc) >= {"exclusive", "host", "pid", "created", "lease_seconds"}
    lock.release()


def test_a_dropped_lock_is_released() -> None:
    store = MemoryBackend()
    lock = acquire_lease(store, exclusive=True, wait=False, lease_seconds=0.3)
    assert lock is not None and len(list(store.list(LOCK_PREFIX))) == 1
    del lock                                # neither released nor kept: like a crash
    wait_until(lambda: gc.collect() >= 0 and not list(store.list(LOCK_PREFIX)), timeout=5)
    again = acquire_lease(store, exclusive=True, wait=False)
    assert again is not None
    again.release()


# -- leases on S3 -------------------------------------------------------------------

def test_holder_keeps_its_lease_alive(seaweed: SeaweedS3, s3: S3Backend) -> None:
    lock = s3.lock(exclusive=True, wait=False)
    assert lock is not None
    first = json.loads(s3.load(lock.name))["refreshed"]
    rewrites: set[str] = {first}

    def refreshed_often() -> bool:
        rewrites.add(json.loads(s3.load(lock.name))["refreshed"])
        return len(rewrites) >= 5          # 4 rewrites at lease/3: more than a lease
    wait_until(refreshed_often, timeout=15)
    assert lock.held
    other = open_s3(seaweed, s3.location)
    assert other.lock(exclusive=False, wait=False) is None
    lock.release()
    assert not lock.held and not s3.exists(lock.name)
    again = other.lock(exclusive=False, wait=False)
    assert again is not None
    again.release()


HOLDER = """
import os, sys
from core.repository.backend.s3 import S3Backend
backend = S3Backend.from_url(sys.argv[1], os.environ["S3_TEST_ACCESS_KEY"],
                             os.environ["S3_TEST_SECRET_KEY"], lease_seconds=float(sys.argv[2]))
lock = backend.lock(exclusive=True, wait=False)
print("locked" if lock else "busy", flush=True)
sys.stdin.read()
"""


def test_lock_of_a_killed_process_is_taken_over_after_its_lease(
        seaweed: SeaweedS3, s3_url: str, caplog: pytest.LogCaptureFixture) -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLDER, s3_url, str(LEASE)],
                             env=subprocess_env(seaweed), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        backend = open_s3(seaweed, s3_url)
        assert backend.lock(exclusive=False, wait=False) is None      # alive: refreshed
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        killed = time.monotonic()
        assert backend.lock(exclusive=True, wait=False) is None       # its lease still runs
        with caplog.at_level(logging.WARNING):
            lock = backend.lock(exclusive=True, wait=True)
        waited = time.monotonic() - killed
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert lock is not None and lock.held
    # taken over only once the lease (plus the server clock's 1 s steps) ran out
    assert LEASE - LEASE / 3 <= waited < LEASE + 8
    assert f"(pid {child.pid})" in caplog.text and "had not been refreshed for" in caplog.text
    assert "longer than its 2 s lease" in caplog.text
    assert [i.name for i in backend.list(LOCK_PREFIX)] == [lock.name]
    lock.release()


def test_holder_that_cannot_refresh_loses_the_lock(seaweed: SeaweedS3, s3_url: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    relay = TcpRelay(("127.0.0.1", int(seaweed.endpoint.rsplit(":", 1)[1])))
    cut_off = open_s3(seaweed, relay_url(s3_url, relay))
    lock = cut_off.lock(exclusive=True, wait=False)
    assert lock is not None and lock.held
    direct = open_s3(seaweed, s3_url)
    with caplog.at_level(logging.WARNING):
        relay.cut()                             # the network to the server goes down
        cut = time.monotonic()
        wait_until(lambda: not lock.held, timeout=LEASE + 5)
        lost_after = time.monotonic() - cut
        assert lost_after <= LEASE + 1
        assert direct.exists(lock.name)         # nobody could remove it: it went stale
        taken = direct.lock(exclusive=True, wait=True)
    assert taken is not None and taken.held
    assert not lock.held
    assert "Cannot refresh the repository lock" in caplog.text
    lock.release()                              # cannot reach the server: only a warning
    taken.release()


CONTENDER = """
import os, sys, threading
from core.repository.backend.s3 import S3Backend
backend = S3Backend.from_url(sys.argv[1], os.environ["S3_TEST_ACCESS_KEY"],
                             os.environ["S3_TEST_SECRET_KEY"], lease_seconds=5)
me = str(os.getpid())
backend.save("ready/" + me, b"")
waiter = threading.Event()
while len(list(backend.list("ready/"))) < 2:    # start together, so they contend
    waiter.wait(0.02)
for _ in range(int(sys.argv[2])):
    with backend.lock(exclusive=True, wait=True) as lock:
        backend.save("inside/" + me, b"")
        waiter.wait(0.02)                       # a wider window for a second holder
        others = [i.name for i in backend.list("inside/") if i.name != "inside/" + me]
        if others:
            sys.exit("two holders at once: " + ", ".join(others))
        count = int(backend.load("counter")) if backend.exists("counter") else 0
        backend.save("counter", str(count + 1).encode())
        backend.remove("inside/" + me)
        if not lock.held:
            sys.exit("lost the lock")
print("done", flush=True)
"""


def test_two_processes_contend_for_the_exclusive_lock(seaweed: SeaweedS3, s3_url: str) -> None:
    rounds = 15
    backend = open_s3(seaweed, s3_url)
    backend.save("warm", b"x")  # SeaweedFS grows a new bucket's volumes on its first write
    children = [subprocess.Popen([sys.executable, "-c", CONTENDER, s3_url, str(rounds)],
                                 env=subprocess_env(seaweed), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    try:
        for child in children:
            out, err = child.communicate(timeout=90)
            results.append((child.returncode, out, err))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    for code, out, err in results:
        assert code == 0 and out.strip() == "done", err[-2000:]
    assert int(backend.load("counter")) == 2 * rounds
    assert list(backend.list(LOCK_PREFIX)) == []


# -- a repository on S3 ---------------------------------------------------------------

PASSWORD = "s3 repository password"
FAST_KDF = {"n": 1024, "r": 8, "p": 1}


def test_backup_and_restore_through_s3(seaweed: SeaweedS3, s3_url: str, tmp_path: Path) -> None:
    from core.repository import Repository
    from tests.core.repository.test_repository import BLOCK, backup, build_tree, snapshot

    src = build_tree(tmp_path / "src")
    (src / "big.bin").write_bytes(os.urandom(300 * 1024))       # several packs
    with Repository.open(open_s3(seaweed, s3_url), create=True, password=PASSWORD,
                         block_size=BLOCK, pack_size=64 << 10, kdf=FAST_KDF,
                         workers=2) as repo:
        first, _, _ = backup(repo, src)
    assert len(list(open_s3(seaweed, s3_url).list("packs/"))) > 2
    with Repository.open(open_s3(seaweed, s3_url), password=PASSWORD, workers=2) as again:
        assert [p.id for p in again.list_points()] == [first.id]
        assert again.verify() == []
        again.restore(first.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)
    assert list(open_s3(seaweed, s3_url).list(LOCK_PREFIX)) == []


KILLED_BACKUP = """
import os, signal, sys
from datetime import datetime, timezone
from core.repository import PointMeta, Repository
from core.repository.backend.s3 import S3Backend

backend = S3Backend.from_url(sys.argv[1], os.environ["S3_TEST_ACCESS_KEY"],
                             os.environ["S3_TEST_SECRET_KEY"], lease_seconds=2)
repo = Repository.open(backend, password=sys.argv[2], workers=2)
w = repo.begin_backup(PointMeta(id="killed", job="Job", computer="pc1", session_id="s",
                                type="Full", created=datetime.now(timezone.utc), parent=None))
st = os.stat(sys.argv[3])

def blocks():
    for i in range(2000):
        if i == 600:
            os.kill(os.getpid(), signal.SIGKILL)
        yield os.urandom(4096)

w.add_file("big.bin", st, blocks())
"""


def test_killed_backup_to_s3_leaves_earlier_points_restorable(
        seaweed: SeaweedS3, s3_url: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    from core.repository import Repository
    from tests.core.repository.test_repository import BLOCK, backup, build_tree, snapshot

    src = build_tree(tmp_path / "src")
    backend = open_s3(seaweed, s3_url)
    with Repository.open(backend, create=True, password=PASSWORD, block_size=BLOCK,
                         pack_size=64 << 10, kdf=FAST_KDF, workers=2) as repo:
        first, _, _ = backup(repo, src)
    packs_before = {o.name for o in backend.list("packs/")}
    proc = subprocess.run([sys.executable, "-c", KILLED_BACKUP, s3_url, PASSWORD, str(src)],
                          env=subprocess_env(seaweed), capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert {o.name for o in backend.list("packs/")} - packs_before    # it got that far
    assert len(list(backend.list(LOCK_PREFIX))) == 1                  # and left its lock
    with Repository.open(open_s3(seaweed, s3_url), password=PASSWORD, workers=2) as again:
        assert [p.id for p in again.list_points()] == [first.id]
        assert again.prune().skipped            # the dead writer's lease still runs
        with caplog.at_level(logging.WARNING):
            backend.lock(exclusive=True, wait=True).release()     # waits for it to run out
        assert "Took over the repository lock" in caplog.text
        report = again.prune()
        assert not report.skipped and report.packs_deleted >= 1
        assert {o.name for o in backend.list("packs/")} == packs_before
        assert again.verify() == []
        again.restore(first.id, tmp_path / "out")
    assert snapshot(tmp_path / "out") == snapshot(src)


# -- the lock on S3 keeps a commit safe and lets a stop through -------------------------

class GatedS3(S3Backend):
    """Holds the first manifest save until released, and fails rewrites of
    lock objects while ``lock_writes_fail`` (the lease's refreshes cannot get
    through, the manifest's PUT can)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.hold_manifest = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.lock_writes_fail = False

    def save(self, name: str, data: bytes | bytearray | memoryview) -> None:
        if self.lock_writes_fail and name.startswith(LOCK_PREFIX):
            raise BackendError("network down (simulated)")
        if self.hold_manifest and name.startswith("points/"):
            self.hold_manifest = False
            self.entered.set()
            assert self.release.wait(60)
        super().save(name, data)


def test_commit_whose_lease_ran_out_during_the_manifest_put_keeps_no_point(
        seaweed: SeaweedS3, s3_url: str) -> None:
    from core.errors import RepositoryError
    from core.repository import Repository
    from tests.core.repository.test_lock_safety import LOST_COMMIT, write_point_data

    gated = GatedS3.from_url(s3_url, seaweed.access_key, seaweed.secret_key,
                             lease_seconds=LEASE)
    Repository.open(gated, create=True, block_size=4096, pack_size=64 << 10).close()
    writer_repo = Repository.open(gated, workers=2)
    prune_repo = Repository.open(open_s3(seaweed, s3_url), workers=2)
    writer = write_point_data(writer_repo, "s3race")
    gated.hold_manifest = True
    result: dict[str, BaseException] = {}

    def commit() -> None:
        try:
            writer.commit()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            result["error"] = exc
    thread = threading.Thread(target=commit, daemon=True)
    thread.start()
    assert gated.entered.wait(30)               # the manifest's PUT is in flight
    gated.lock_writes_fail = True
    wait_until(lambda: not writer._lock.held, timeout=LEASE + 5)
    reports = []
    wait_until(lambda: not (r := prune_repo.prune()).skipped and not reports.append(r),
               timeout=LEASE + 10)
    assert reports[0].packs_deleted >= 1        # a prune took over and deleted its packs
    gated.release.set()                         # the PUT lands after all
    thread.join(60)
    error = result.get("error")
    assert isinstance(error, RepositoryError) and LOST_COMMIT in str(error), result
    with Repository.open(open_s3(seaweed, s3_url), workers=2) as again:
        assert again.point_ids() == []
        assert again.verify() == []


PRUNE_HOLDER = """
import os, sys
from core.repository.backend.s3 import S3Backend
backend = S3Backend.from_url(sys.argv[1], os.environ["S3_TEST_ACCESS_KEY"],
                             os.environ["S3_TEST_SECRET_KEY"], lease_seconds=5)
lock = backend.lock(exclusive=True, wait=False, purpose="prune")
print("locked" if lock else "busy", flush=True)
sys.stdin.read()
"""


def test_immediate_stop_ends_a_wait_for_an_s3_repository_lock(
        seaweed: SeaweedS3, s3_url: str, service, make_job) -> None:
    from core.api import RepositorySpec
    from pydantic import SecretStr
    from tests.core.repository.test_lock_safety import stop_waiting_job, wait_for_note

    service.add_repository(RepositorySpec(
        name="Cloud", url=s3_url, insecure_no_encryption=True,
        access_key_id=seaweed.access_key, secret_access_key=SecretStr(seaweed.secret_key)))
    make_job("Job", computers=1, repository="Cloud")
    child = subprocess.Popen([sys.executable, "-c", PRUNE_HOLDER, s3_url],
                             env=subprocess_env(seaweed), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        sid, note = wait_for_note(service, "Job", "Waiting for the repository lock")
        assert f"held by {socket.gethostname()} (pid {child.pid}, prune)" in note
        stop_waiting_job(service, "Job", sid)
    finally:
        child.kill()
        child.wait()
