"""Linux computers over SSH, against a real sshd on loopback (issue 13):
backup and restore, source-side dedup, host keys, identities, stop semantics
across the network, and dropped connections."""
from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from core.agents.select import agent_for
from core.models import (
    Computer, FileScope, JobDefinition, PointType, SessionResult, SessionState, SshSettings,
    StopMode, TaskStatus,
)
from core.agents.ssh.errors import RemoteError
from core.agents.ssh.agent import NATIVE_ENV
from tests.conftest import wait_until
from tests.support.sshd import Sshd, keygen, free_port, sshd_available, start_sshd
from tests.core.engine.test_backup_restore import build_tree, snapshot_tree

pytestmark = pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (openssh-server)")

MB = 1 << 20


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> Sshd:
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()


@pytest.fixture
def data_dir(tmp_path, sshd, monkeypatch) -> Path:
    """The service's data directory, knowing the sshd's host key; the server
    user's default key (HOME/.ssh) is the authorized one, so that checks made
    without the job's SSH settings work too."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "known_hosts").write_text(sshd.known_hosts_line())
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_bytes(sshd.client_key.read_bytes())
    os.chmod(home / ".ssh" / "id_ed25519", 0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AGENT_CONSOLE_DATA_DIR", str(data))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return data


@pytest.fixture
def service(data_dir, gate):
    from core.service.facade import BackupService
    from tests.conftest import shutdown_service

    svc = BackupService(data_dir, hooks=gate)
    yield svc
    shutdown_service(svc, gate)


def settings(sshd: Sshd, **kw) -> SshSettings:
    return SshSettings(identity_file=str(sshd.client_key), **kw)


def ssh_job(service, sshd, name: str, folders: dict[str, Path], **options) -> JobDefinition:
    computers = tuple(Computer(name=n, path=sshd.url(p) if not n.startswith("local")
                               else str(p)) for n, p in folders.items())
    job = JobDefinition(name=name, computers=computers, ssh=settings(sshd), **options)
    service.create_job(job)
    return job


def run(service, name: str, **kw):
    return service.wait_session(service.start_job(name, **kw), timeout=120)


def wire_received(task) -> tuple[int, int]:
    """(bytes received over SSH, files the computer read) from the task log."""
    for item in task.log:
        m = re.search(r"Over SSH: ([\d,]+) bytes received from the computer; it read ([\d,]+)",
                      item.text)
        if m:
            return int(m[1].replace(",", "")), int(m[2].replace(",", ""))
    raise AssertionError(f"no SSH figures in the log: {[i.text for i in task.log]}")


def wire_sent(task) -> int:
    """Bytes sent to the computer over SSH, from the task log."""
    for item in task.log:
        m = re.search(r"Over SSH: .*; sent ([\d,]+) bytes to the computer$", item.text)
        if m:
            return int(m[1].replace(",", ""))
    raise AssertionError(f"no SSH figures in the log: {[i.text for i in task.log]}")


def random_file(path: Path, size: int, seed: int = 0) -> bytes:
    import random

    data = random.Random(seed).randbytes(size)
    path.write_bytes(data)
    return data


# -- backup, restore, incremental, dedup -------------------------------------------

def test_backup_over_ssh_restores_byte_identical_and_unchanged_moves_nothing(
        service, sshd, tmp_path):
    src = build_tree(tmp_path / "src")
    for i in range(40):
        (src / "docs" / f"small-{i}.txt").write_text(f"note {i}\n" * (i + 1))
    os.link(src / "big.bin", src / "big-hardlink.bin")
    ssh_job(service, sshd, "Remote", {"web1": src})

    first = run(service, "Remote")
    assert first.result is SessionResult.SUCCESS, [t.log for t in first.tasks]
    (point,) = service.list_points("Remote")
    assert point.type is PointType.FULL
    service.restore(point.id, tmp_path / "out")
    assert snapshot_tree(tmp_path / "out") == snapshot_tree(src)
    assert os.stat(tmp_path / "out" / "big.bin").st_ino == \
        os.stat(tmp_path / "out" / "big-hardlink.bin").st_ino
    full_wire, full_read = wire_received(first.tasks[0])
    assert full_read == 44 and full_wire >= 3 * MB

    second = run(service, "Remote")
    assert second.result is SessionResult.SUCCESS
    task = second.tasks[0]
    assert task.point_type is PointType.INCREMENT
    received, opened = wire_received(task)
    assert opened == 0 and task.bytes_read == 0
    assert received < 20_000, received          # the stat listing, compressed
    assert task.files_done == task.files_total == 44


def test_source_dedup_sends_only_new_chunks(service, sshd, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    original = random_file(src / "a.bin", 16 * MB, seed=1)
    ssh_job(service, sshd, "Dedup", {"db1": src})
    assert run(service, "Dedup").result is SessionResult.SUCCESS

    (src / "copy.bin").write_bytes(original)                       # duplicated: 0 new chunks
    mid = len(original) // 2
    import random

    changed = original[:mid] + random.Random(7).randbytes(len(original) // 100) + original[mid:]
    (src / "changed.bin").write_bytes(changed)                     # 1 % inserted
    session = run(service, "Dedup")
    assert session.result is SessionResult.SUCCESS
    task = session.tasks[0]
    received, opened = wire_received(task)
    assert opened == 2 and task.bytes_read == 2 * 16 * MB + len(original) // 100
    # the inserted 1 % and the chunks around it (average 1 MiB), never the files
    assert received < 4 * MB, received
    assert task.bytes_transferred < 4 * MB
    point = service.list_points("Dedup")[-1]
    service.restore(point.id, tmp_path / "out")
    assert (tmp_path / "out" / "copy.bin").read_bytes() == original
    assert (tmp_path / "out" / "changed.bin").read_bytes() == changed


def test_without_native_modules_files_are_sent_whole_and_cut_alike(
        service, sshd, tmp_path, monkeypatch):
    """The fallback (forced here): the agent streams changed files and the
    server cuts them; its chunks are the native agent's, so data backed up
    one way deduplicates against the other."""
    src = build_tree(tmp_path / "src")
    random_file(src / "more.bin", 6 * MB, seed=2)
    ssh_job(service, sshd, "Native", {"n1": src})
    assert run(service, "Native").result is SessionResult.SUCCESS

    monkeypatch.setenv(NATIVE_ENV, "0")
    ssh_job(service, sshd, "Streamed", {"s1": src})
    session = run(service, "Streamed")
    assert session.result is SessionResult.SUCCESS
    task = session.tasks[0]
    notes = [i.text for i in task.log if "cannot cut and hash" in i.text]
    assert len(notes) == 1 and "native modules disabled" in notes[0]
    received, opened = wire_received(task)
    assert received >= 9 * MB and opened == 5
    assert task.bytes_transferred == 0          # every chunk was already stored natively
    (point,) = service.list_points("Streamed")
    service.restore(point.id, tmp_path / "out")
    assert snapshot_tree(tmp_path / "out") == snapshot_tree(src)


def test_native_modules_are_cached_on_the_computer(service, tmp_path, data_dir):
    """Sent once, then loaded from the computer's cache (checked by hash):
    a session with one changed file sends little. A damaged cache entry is
    replaced; a cache that cannot be written only costs the transfer."""
    import hashlib

    from core.agents.ssh import payload
    server = start_sshd(tmp_path / "sshd")
    try:
        with open(data_dir / "known_hosts", "a") as f:
            f.write(server.known_hosts_line())
        src = build_tree(tmp_path / "src")
        ssh_job(service, server, "Cached", {"c1": src})
        native = len(payload.native_zip())
        cache = tmp_path / "sshd" / "cache" / "agent-backup"
        entry = cache / f"{hashlib.sha256(payload.native_zip()).hexdigest()}.zip"

        def session_sending(change: str) -> int:
            (src / "docs" / "changing.txt").write_text(change)
            session = run(service, "Cached")
            assert session.result is SessionResult.SUCCESS, [i.text for i in session.tasks[0].log]
            assert not [i.text for i in session.tasks[0].log if "cannot cut and hash" in i.text]
            return wire_sent(session.tasks[0])

        first = session_sending("one")
        assert first > native > 1_000_000
        assert entry.read_bytes() == payload.native_zip()
        assert (cache.stat().st_mode & 0o777, entry.stat().st_mode & 0o777) == (0o700, 0o600)
        assert session_sending("two") < 100_000

        entry.write_bytes(b"damaged" + payload.native_zip()[7:])
        assert session_sending("three") > native
        assert entry.read_bytes() == payload.native_zip()

        shutil.rmtree(cache)
        cache.write_text("not a folder")
        assert session_sending("four") > native
        assert session_sending("five") > native
    finally:
        server.stop()


def test_entire_computer_skips_the_kernels_pseudo_file_systems(service, sshd, tmp_path):
    """Path "/" over SSH and locally (the same walker): /proc and /sys are
    not entered, whether reached by an include or by the walk, with one note
    each and no warning."""
    from core.agents.ssh.agent_src.backup_agent.walk import pseudo_mounts, read_mounts

    assert {"proc", "sys"} <= set(pseudo_mounts("/", read_mounts()))
    src = build_tree(tmp_path / "src")
    mine = str(src.resolve()).lstrip("/")
    scope = FileScope(include=("proc/sys/kernel", "sys/kernel/mm", mine))
    computers = (Computer(name="web1", path=f"ssh://{sshd.user}@127.0.0.1:{sshd.port}/"),
                 Computer(name="local1", path="/"))
    service.create_job(JobDefinition(name="Whole", computers=computers, ssh=settings(sshd),
                                     scope=scope))
    session = run(service, "Whole")
    assert session.result is SessionResult.SUCCESS
    for task in session.tasks:
        assert not [i.text for i in task.log if i.level == "warning"]
        notes = [i.text for i in task.log if i.text.startswith("Skipped the contents of")]
        assert notes == [
            "Skipped the contents of 'proc': it is a proc file system (the kernel's "
            "pseudo-files, not data on disk)",
            "Skipped the contents of 'sys': it is a sysfs file system (the kernel's "
            "pseudo-files, not data on disk)"]
    for point in service.list_points("Whole"):
        paths = [e.path for e in service._load_manifest(point.id).entries]
        assert f"{mine}/big.bin" in paths
        assert not [p for p in paths if p.split("/")[0] in ("proc", "sys")]


def test_the_read_rate_paces_the_computers_own_reads(service, sshd, tmp_path):
    """The job's rate caps what the computer reads from its disk, not only
    what crosses the network: a new 16 MiB file at 8 MB/s takes the agent at
    least 2 s (less the bucket's small burst), by its own account."""
    src = tmp_path / "paced"
    src.mkdir()
    random_file(src / "big.bin", 16 * MB, seed=6)
    ssh_job(service, sshd, "Paced", {"p1": src}, throttle_mbps=8)
    session = run(service, "Paced")
    assert session.result is SessionResult.SUCCESS
    task = session.tasks[0]
    assert task.bytes_read == 16 * MB
    (seconds,) = [float(m[1]) for i in task.log
                  if (m := re.search(r"Over SSH: .* it read 1 file\(s\), .* in ([\d.]+) s ",
                                     i.text))]
    assert seconds >= 1.8, seconds


def test_a_paced_read_shows_its_progress_before_its_chunks_arrive(service, sshd, tmp_path):
    """A 1 MiB file is one read at the computer, cut once the read is paced
    (the cut needs the end of the file): at 0.5 MB/s its chunks reach the
    server after 2 s, and meanwhile the computer's own count shows how far it
    got. Nothing is counted twice."""
    src = tmp_path / "progress"
    src.mkdir()
    random_file(src / "one.bin", MB, seed=9)
    ssh_job(service, sshd, "Progress", {"p1": src}, throttle_mbps=0.5)
    sid = service.start_job("Progress")
    wait_until(lambda: 0 < service.get_session(sid).tasks[0].bytes_read < MB, timeout=30)
    session = service.wait_session(sid, timeout=60)
    assert session.result is SessionResult.SUCCESS
    (task,) = session.tasks
    assert task.bytes_read == task.bytes_processed == MB


# -- check, host keys, identities --------------------------------------------------

def test_check_says_who_and_what(sshd, tmp_path, data_dir):
    folder = tmp_path / "folder"
    folder.mkdir()
    agent = agent_for(Computer(name="pc", path=sshd.url(folder)), settings(sshd),
                      data_dir=data_dir)
    try:
        text = agent.check()
    finally:
        agent.close()
    assert text.startswith(f"Connected to 127.0.0.1 as {sshd.user}; {folder} is readable "
                           "(Python 3.")
    missing = agent_for(Computer(name="pc", path=sshd.url(tmp_path / "nope")), settings(sshd),
                        data_dir=data_dir)
    with pytest.raises(RemoteError, match=r"nope on 127.0.0.1 does not exist"):
        missing.check()
    missing.close()


def test_unknown_host_key_refused_then_accepted_and_remembered(sshd, tmp_path):
    data = tmp_path / "fresh"
    computer = Computer(name="pc", path=sshd.url(tmp_path))
    with pytest.raises(RemoteError, match=r"host key of 127\.0\.0\.1:\d+ \(SHA256:.*\) is unknown"):
        agent_for(computer, settings(sshd), data_dir=data).check()
    assert not (data / "known_hosts").exists()

    agent = agent_for(computer, settings(sshd, accept_new_host_key=True), data_dir=data)
    agent.check()
    agent.close()
    assert (data / "known_hosts").read_text() == sshd.known_hosts_line()

    again = agent_for(computer, settings(sshd), data_dir=data)   # remembered: no accept needed
    assert again.check().startswith("Connected")
    again.close()


def test_changed_host_key_is_always_refused(sshd, tmp_path):
    data = tmp_path / "changed"
    data.mkdir()
    other = keygen(tmp_path / "other").split()
    (data / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {other[0]} {other[1]}\n")
    computer = Computer(name="pc", path=sshd.url(tmp_path))
    for accept in (False, True):
        agent = agent_for(computer, settings(sshd, accept_new_host_key=accept), data_dir=data)
        with pytest.raises(RemoteError, match="CHANGED") as err:
            agent.check()
        assert "remove its line" in str(err.value)
    assert (data / "known_hosts").read_text().count("\n") == 1


def test_wrong_identity_and_refused_port_fail_clearly(sshd, tmp_path, data_dir):
    keygen(tmp_path / "stranger")
    computer = Computer(name="pc", path=sshd.url(tmp_path))
    wrong = SshSettings(identity_file=str(tmp_path / "stranger"))
    with pytest.raises(RemoteError, match=rf"Authentication as '{sshd.user}' on 127\.0\.0\.1:"
                                          r"\d+ failed.*authorized_keys"):
        agent_for(computer, wrong, data_dir=data_dir).check()
    with pytest.raises(RemoteError, match="identity file .* does not exist"):
        agent_for(computer, SshSettings(identity_file=str(tmp_path / "none")),
                  data_dir=data_dir).check()
    closed = Computer(name="pc", path=f"ssh://{sshd.user}@127.0.0.1:{free_port()}/srv")
    with pytest.raises(RemoteError, match=r"refused: no SSH server listens there"):
        agent_for(closed, settings(sshd), data_dir=data_dir).check()


# -- stop semantics across the network --------------------------------------------

def slow_job(service, sshd, tmp_path, name: str, extra: dict[str, Path] | None = None,
             **options) -> None:
    src = tmp_path / name
    src.mkdir()
    random_file(src / "big.bin", 24 * MB, seed=3)
    ssh_job(service, sshd, name, {"slow1": src, **(extra or {})}, **options)


def stopped_within(service, sid: str, seconds: float) -> float:
    t0 = time.monotonic()
    wait_until(lambda: service.get_session(sid).state is SessionState.STOPPED, timeout=10)
    return time.monotonic() - t0


def test_immediate_stop_during_a_throttled_remote_read_within_a_second(service, sshd, tmp_path):
    # 4 MB/s: the first 4 MB arrive after about a second, the 24 MB take six
    slow_job(service, sshd, tmp_path, "Slow", throttle_mbps=4)
    sid = service.start_job("Slow")
    wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > 0, timeout=30)
    service.stop_job("Slow", StopMode.IMMEDIATELY)
    assert stopped_within(service, sid, 1.0) < 1.0
    task = service.get_session(sid).tasks[0]
    assert task.status is TaskStatus.CANCELLED and not service.list_points("Slow")
    wait_until(lambda: not sshd.agent_pids(), timeout=5)   # the remote read ended too


def test_immediate_stop_while_the_computer_is_frozen_within_a_second(service, sshd, tmp_path):
    """The agent is stopped (SIGSTOP) mid-read: the link carries nothing."""
    slow_job(service, sshd, tmp_path, "Frozen", throttle_mbps=2)
    wait_until(lambda: not sshd.agent_pids(), timeout=5)   # other tests' agents have ended
    sid = service.start_job("Frozen")
    wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > 0, timeout=30)
    (pid,) = sshd.agent_pids()
    os.kill(pid, signal.SIGSTOP)
    try:
        read = service.get_session(sid).tasks[0].bytes_read
        service.stop_job("Frozen", StopMode.IMMEDIATELY)
        assert stopped_within(service, sid, 1.0) < 1.0
        assert service.get_session(sid).tasks[0].status is TaskStatus.CANCELLED
        assert read < 24 * MB
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_until(lambda: not sshd.agent_pids(), timeout=5)


def test_graceful_stop_lets_the_remote_computer_finish(service, sshd, tmp_path, gate):
    slow_job(service, sshd, tmp_path, "Graceful", throttle_mbps=40)
    sid = service.start_job("Graceful")
    wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > 0, timeout=30)
    service.stop_job("Graceful", StopMode.GRACEFULLY)
    session = service.wait_session(sid, timeout=60)
    assert session.tasks[0].status is TaskStatus.SUCCESS
    (point,) = service.list_points("Graceful")
    assert point.size == 24 * MB


@pytest.mark.parametrize("victim", ["session", "agent"])
def test_dropped_connection_fails_that_computer_only(service, sshd, tmp_path, victim):
    local = tmp_path / "local-src"
    build_tree(local)
    slow_job(service, sshd, tmp_path, "Drop", extra={"local1": local}, throttle_mbps=4)
    sid = service.start_job("Drop")
    wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > 0, timeout=30)
    pids = sshd.session_pids() if victim == "session" else sshd.agent_pids()
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    session = service.wait_session(sid, timeout=60)
    remote, local_task = session.tasks
    assert remote.status is TaskStatus.FAILED
    text = remote.log[-1].text
    assert "The connection to" in text and "was lost" in text, text
    if victim == "agent":
        assert "killed (signal KILL)" in text, text
        import tempfile

        left = [p for p in Path(tempfile.gettempdir()).glob("backup-agent-*")
                if (p / "pid").read_text() in {str(pid) for pid in pids}]
        assert left                                  # killed: it could not clean up
        agent = agent_for(Computer(name="pc", path=sshd.url(tmp_path)), settings(sshd),
                          data_dir=service.data_dir)
        agent.check()                                # the next agent removes it
        agent.close()
        assert not any(p.exists() for p in left)
    assert local_task.status is TaskStatus.SUCCESS
    assert [p.computer for p in service.list_points("Drop")] == ["local1"]


def test_a_computer_that_stops_answering_fails_clearly_and_the_others_go_on(
        service, sshd, tmp_path, data_dir, monkeypatch):
    """The link to one computer stalls (its sshd session frozen): no stop,
    no reset, only silence. Keep-alives give up on it, and the job's other
    computer still gets its restore point."""
    from core.agents.ssh import connect
    assert connect.KEEPALIVE_S * connect.KEEPALIVE_MISSES == 30    # in production
    monkeypatch.setattr(connect, "KEEPALIVE_S", 0.5)
    frozen = start_sshd(tmp_path / "frozen")
    pids: list[int] = []
    try:
        with open(data_dir / "known_hosts", "a") as f:
            f.write(frozen.known_hosts_line())
        with open(frozen.folder / "authorized_keys", "a") as f:   # the job's one identity
            f.write(Path(f"{sshd.client_key}.pub").read_text())
        stuck = tmp_path / "stuck"
        stuck.mkdir()
        random_file(stuck / "big.bin", 24 * MB, seed=4)
        healthy = build_tree(tmp_path / "healthy")
        service.create_job(JobDefinition(
            name="Stall", ssh=settings(sshd), throttle_mbps=4,
            computers=(Computer(name="stuck1", path=frozen.url(stuck)),
                       Computer(name="ok1", path=sshd.url(healthy)))))
        sid = service.start_job("Stall")
        wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > 0, timeout=30)
        pids = frozen.session_pids()
        assert pids
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        session = service.wait_session(sid, timeout=60)
        stalled, fine = session.tasks
        assert stalled.status is TaskStatus.FAILED
        assert stalled.log[-1].text.endswith(
            f"The computer {sshd.user}@127.0.0.1:{frozen.port} stopped answering (no reply to "
            "keep-alive for 1.5 s); check the network and that the computer is running."), \
            stalled.log[-1].text
        assert fine.status is TaskStatus.SUCCESS
        assert [p.computer for p in service.list_points("Stall")] == ["ok1"]
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        frozen.stop()


def test_python3_missing_on_the_computer_is_named(tmp_path, data_dir):
    """The computer's shell cannot find the interpreter (sshd runs another
    command instead of ours, as a computer without python3 would fail)."""
    server = start_sshd(tmp_path / "nopython", extra=("ForceCommand exec python3-not-here",))
    try:
        (data_dir / "known_hosts").write_text(server.known_hosts_line())
        agent = agent_for(Computer(name="pc", path=server.url(tmp_path)), settings(server),
                          data_dir=data_dir)
        with pytest.raises(RemoteError, match=r"python3 is missing on .*install Python 3"):
            agent.check()
    finally:
        server.stop()


BANNER = 'ForceCommand echo "Welcome to web1"; eval "$SSH_ORIGINAL_COMMAND"'
FLOOD = 'ForceCommand yes "Welcome to web1" | head -c 200000; eval "$SSH_ORIGINAL_COMMAND"'


def test_a_login_shell_banner_is_skipped_and_a_flood_is_named(tmp_path, data_dir):
    """A login shell that prints before running the agent (a ForceCommand or
    a .bashrc that echoes): a short banner is skipped; a flood of it fails
    with the line it printed quoted."""
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    for extra, fine in ((BANNER, True), (FLOOD, False)):
        server = start_sshd(tmp_path / f"sshd-{fine}", extra=(extra,))
        try:
            (data_dir / "known_hosts").write_text(server.known_hosts_line())
            agent = agent_for(Computer(name="pc", path=server.url(folder)), settings(server),
                              data_dir=data_dir)
            if fine:
                assert agent.check().startswith("Connected")
                assert [e.rel for e in agent.scan(FileScope()).entries] == ["a.txt"]
            else:
                with pytest.raises(RemoteError) as err:
                    agent.check()
                assert str(err.value) == (
                    f"Computer 'pc': The login shell on {server.user}@127.0.0.1:{server.port} "
                    "printed 'Welcome to web1' before the backup agent started: make it quiet "
                    "for non-interactive sessions (a banner, or an echo in .bashrc or a "
                    "ForceCommand, must print only when a terminal is attached).")
            agent.close()
        finally:
            server.stop()


def test_an_agent_that_never_says_hello_times_out_clearly(tmp_path, data_dir, monkeypatch):
    from core.agents.ssh import connect
    monkeypatch.setattr(connect, "HELLO_TIMEOUT_S", 0.5)
    server = start_sshd(tmp_path / "mute", extra=("ForceCommand exec cat >/dev/null",))
    try:
        (data_dir / "known_hosts").write_text(server.known_hosts_line())
        agent = agent_for(Computer(name="pc", path=server.url(tmp_path)), settings(server),
                          data_dir=data_dir)
        t0 = time.monotonic()
        with pytest.raises(RemoteError, match=r"The backup agent did not start on .* within "
                                              r"0\.5 s\.$"):
            agent.check()
        assert time.monotonic() - t0 < 5
        agent.close()
    finally:
        server.stop()


def test_new_host_key_accepted_by_a_job_is_noted_and_remembered(service, sshd, tmp_path,
                                                                  data_dir):
    (data_dir / "known_hosts").unlink()
    src = build_tree(tmp_path / "src")
    job = JobDefinition(name="Accept", computers=(Computer(name="pc", path=sshd.url(src)),),
                        ssh=settings(sshd, accept_new_host_key=True))
    service.create_job(job)          # an SSH computer is not contacted until the job runs
    session = run(service, "Accept")
    assert session.result is SessionResult.SUCCESS
    assert any("New host key of 127.0.0.1 accepted and remembered: SHA256:" in i.text
               for i in session.tasks[0].log)
    assert (data_dir / "known_hosts").read_text() == sshd.known_hosts_line()


def test_the_remote_agent_needs_only_the_standard_library():
    import ast
    import sys

    src = Path(__file__).resolve().parents[4] / "core" / "agents" / "ssh" / "agent_src" / "backup_agent"
    for path in src.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("blake3", "pyfastcdc"), \
                    f"{path.name} imports {name}"


def test_a_silent_host_times_out_clearly(tmp_path, data_dir, monkeypatch):
    """A host that accepts the TCP connection and never speaks SSH."""
    import socket

    from core.agents.ssh import connect
    monkeypatch.setattr(connect, "CONNECT_TIMEOUT_S", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        computer = Computer(name="pc", path=f"ssh://root@127.0.0.1:{port}/srv")
        t0 = time.monotonic()
        with pytest.raises(RemoteError, match=r"port \d+ timed out after 0.5 s: the computer is "
                                              r"off, unreachable"):
            agent_for(computer, SshSettings(), data_dir=data_dir).check()
        assert time.monotonic() - t0 < 5


def test_cancel_ends_a_stalled_connect_at_once(tmp_path, data_dir):
    import socket

    from core.agents.base import Cancelled

    cancel = threading.Event()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        computer = Computer(name="pc",
                            path=f"ssh://root@127.0.0.1:{silent.getsockname()[1]}/srv")
        agent = agent_for(computer, SshSettings(), data_dir=data_dir, cancel=cancel)
        outcome: list[BaseException] = []

        def connect() -> None:
            try:
                agent.check()
            except BaseException as exc:   # noqa: BLE001 - the test inspects it
                outcome.append(exc)

        thread = threading.Thread(target=connect)
        thread.start()
        accepted: list = []
        wait_until(lambda: accepted.append(silent.accept()) is None, timeout=10)  # connecting
        t0 = time.monotonic()
        cancel.set()
        thread.join(5)
        assert time.monotonic() - t0 < 1.0
        assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)


def read_position(pid: int, path: Path) -> int:
    """Where the process ``pid`` reads ``path`` (-1: it has not opened it)."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        for fd in fds.iterdir():
            try:
                if os.readlink(fd) == str(path):
                    info = (Path(f"/proc/{pid}/fdinfo") / fd.name).read_text()
                    return int(info.split("pos:")[1].split()[0])
            except OSError:
                continue
    except OSError:
        pass
    return -1


def test_a_file_changed_while_the_computer_reads_it_is_read_again(service, sshd, tmp_path,
                                                                   gate):
    """The server holds the computer after its first file; the agent reads
    ahead into the big file until its window is full, and the file changes
    under it there. Released, the agent sees the change and reads again."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "a-small.txt").write_text("first\n")
    big = src / "b-big.bin"
    random_file(big, 64 * MB, seed=5)
    ssh_job(service, sshd, "Changing", {"chg1": src})
    gate.hold("chg1")
    sid = service.start_job("Changing")
    assert gate.wait_held("chg1", timeout=30)
    # mid-file and held there: at most 32 MiB waits for answers, a few MiB more in transit
    # (other tests' agents may still be ending: look for the one reading the file)
    wait_until(lambda: any(read_position(pid, big) >= 24 * MB for pid in sshd.agent_pids()),
               timeout=30)
    with open(big, "ab") as f:
        f.write(b"appended while read")
    gate.release("chg1")
    session = service.wait_session(sid, timeout=120)
    assert session.result is SessionResult.SUCCESS, [i.text for i in session.tasks[0].log]
    texts = [i.text for i in session.tasks[0].log]
    assert "File 'b-big.bin' changed while it was read; reading it again" in texts
    service.restore(service.list_points("Changing")[-1].id, tmp_path / "out")
    assert (tmp_path / "out" / "b-big.bin").read_bytes() == big.read_bytes()


def test_pause_and_resume_of_a_remote_read_outlasts_the_watchdog(service, sshd, tmp_path,
                                                                 monkeypatch):
    """Pause (issue 25) over SSH: the computer is held between the groups of blocks its
    agent sends, for longer than the agent's stall limit (3 s here) without being given
    up; Resume finishes the read, and the point restores exactly."""
    from core.agents.ssh import watchdog
    monkeypatch.setenv(watchdog.STALL_ENV, "3")
    slow_job(service, sshd, tmp_path, "Held", throttle_mbps=4)
    sid = service.start_job("Held")
    wait_until(lambda: service.get_session(sid).tasks[0].bytes_read > 0, timeout=30)
    service.pause_job("Held")
    wait_until(lambda: service.get_session(sid).state is SessionState.PAUSED, timeout=5)
    read = service.get_session(sid).tasks[0].bytes_read
    threading.Event().wait(4.5)   # held past the stall limit on purpose
    assert service.get_session(sid).tasks[0].status is TaskStatus.IN_PROGRESS
    assert service.get_session(sid).tasks[0].bytes_read <= read + 2 * MB   # in flight only
    service.resume_job("Held")
    session = service.wait_session(sid, timeout=60)
    assert session.result is SessionResult.SUCCESS, [i.text for i in session.tasks[0].log]
    (point,) = service.list_points("Held")
    out = tmp_path / "out"
    service.wait_session(service.start_restore(point.id, out), timeout=60)
    assert (out / "big.bin").read_bytes() == (tmp_path / "Held" / "big.bin").read_bytes()
