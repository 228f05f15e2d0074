"""No other local user can read a backup: with a real server process and a
real second Unix user, the data directory, the catalogue, the logs and the
repository (packs, index, manifests) refuse them, whatever the server's
umask; a data directory an older version left open is closed at start."""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_until

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
OTHER = "abk-other"
JOB = "Private"


@pytest.fixture(scope="session")
def other_user() -> pwd.struct_passwd:
    """A second, unprivileged Unix user (created once if missing)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: to create a second Unix user and run commands as it")
    try:
        return pwd.getpwnam(OTHER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", OTHER], check=True, capture_output=True)
        return pwd.getpwnam(OTHER)


def as_other(user: pwd.struct_passwd, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                           "--clear-groups", "--", *argv],
                          capture_output=True, text=True, errors="replace", timeout=30, cwd="/")


@pytest.fixture
def shared(other_user: pwd.struct_passwd) -> Iterator[Path]:
    """A folder the other user can enter and read (pytest's own temporary
    folders are 0700): whatever refuses them below it is the product's modes."""
    base = Path(tempfile.mkdtemp(prefix="abk-private-", dir="/var/tmp"))
    base.chmod(0o755)
    control = base / "control.txt"
    control.write_text("readable\n")
    control.chmod(0o644)
    seen = as_other(other_user, "cat", str(control))
    assert seen.returncode == 0 and seen.stdout == "readable\n", seen.stderr
    yield base
    shutil.rmtree(base, ignore_errors=True)


def agent_jobs(data: Path, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "core.cli", "--data-dir", str(data), *args],
                            capture_output=True, text=True, env=ENV, timeout=120, cwd=ROOT,
                            umask=umask)
    assert result.returncode == 0, result.stderr
    return result


class Server:
    """``agent-jobs server run`` in the foreground, under ``umask``."""

    def __init__(self, data: Path, umask: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "--data-dir", str(data), "server", "run"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT,
            umask=umask)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "listening on" in line, line + self.proc.stderr.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=30)


def backup(shared: Path, data: Path, umask: int) -> Server:
    """A server with one backup made of a file only its owner may read."""
    src = shared / "src"
    src.mkdir()
    secret = src / "only-root.txt"
    secret.write_text(f"root's secret {secrets.token_hex(8)}\n")
    secret.chmod(0o600)
    server = Server(data, umask)
    agent_jobs(data, "job", "create", JOB, "--computer", f"pc1={src}", umask=umask)
    agent_jobs(data, "start", JOB, "--wait", umask=umask)
    return server


def entries(top: Path) -> dict[Path, int]:
    """Every folder and file under ``top`` (symlinks not followed) -> its mode."""
    found = {top: stat.S_IMODE(top.lstat().st_mode)}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(folder) / name
            found[path] = stat.S_IMODE(path.lstat().st_mode)
    return found


def assert_refused(user: pwd.struct_passwd, data: Path) -> None:
    """The other user can neither list nor read anything of the backups."""
    repo = data / "repositories" / "default"
    pack = next((repo / "packs").rglob("*.pack"))
    manifest = next((repo / "points").iterdir())
    index = next((repo / "index").iterdir())
    folders = [data, data / "logs", repo, repo / "packs", repo / "points"]
    files = [data / "catalogue.sqlite", data / "logs" / "server.log", pack, manifest, index,
             repo / "config.json", data / "server.token"]
    for folder in folders:
        seen = as_other(user, "ls", str(folder))
        assert seen.returncode != 0 and "Permission denied" in seen.stderr, \
            f"{OTHER} could list {folder}: {seen.stdout}"
    for file in files:
        seen = as_other(user, "cat", str(file))
        assert seen.returncode != 0 and "Permission denied" in seen.stderr, \
            f"{OTHER} could read {file}"


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_another_user_can_read_nothing_of_a_backup(other_user: pwd.struct_passwd,
                                                   shared: Path, umask: int) -> None:
    data = shared / "data"
    server = backup(shared, data, umask)
    try:
        modes = entries(data)   # while the server runs: the catalogue's -wal and -shm too
        assert data / "catalogue.sqlite-wal" in modes and data / "catalogue.sqlite-shm" in modes
        assert any(p.suffix == ".pack" for p in modes)
        open_to_others = {str(p.relative_to(shared)): f"{m:04o}" for p, m in modes.items()
                          if m & 0o077 and not stat.S_ISSOCK(p.lstat().st_mode)}
        assert open_to_others == {}
        assert all(m == (0o700 if p.is_dir() else 0o600) for p, m in modes.items()
                   if not stat.S_ISSOCK(p.lstat().st_mode)), modes
        assert_refused(other_user, data)
    finally:
        server.stop()


def test_a_data_directory_left_open_is_closed_at_start(other_user: pwd.struct_passwd,
                                                       shared: Path) -> None:
    data = shared / "data"
    external = shared / "external-repo"
    password = shared / "password"
    password.write_text("correct horse\n")
    password.chmod(0o600)
    server = backup(shared, data, 0o022)
    try:
        agent_jobs(data, "repository", "add", "Elsewhere", "--url", str(external),
                   "--password-file", str(password))
        agent_jobs(data, "job", "create", "Far", "--computer", f"pc1={shared / 'src'}",
                   "--repository", "Elsewhere")
        agent_jobs(data, "start", "Far", "--wait")
    finally:
        server.stop()
    # What an older version left: folders 0755, files 0644; a link to a file
    # and a folder outside (not to be followed) and a demo computer's files
    # (backed up with their modes: kept).
    outside = shared / "outside"
    outside.mkdir()
    (outside / "theirs.txt").write_text("not ours to change\n")
    os.symlink(outside, data / "link-to-folder")
    os.symlink(outside / "theirs.txt", data / "link-to-file")
    demo_file = data / "demo-computers" / "pc" / "etc" / "motd"
    demo_file.parent.mkdir(parents=True)
    demo_file.write_text("hello\n")
    stuck = data / "logs" / "immutable.log"   # chmod fails: said, and the rest goes on
    stuck.write_text("chattr +i\n")
    for top in (data, external, outside):
        for path in entries(top):
            path.chmod(0o755 if path.is_dir() else 0o644)
    subprocess.run(["chattr", "+i", str(stuck)], check=True)
    server = None
    try:
        assert as_other(other_user, "cat", str(data / "catalogue.sqlite")).returncode == 0
        server = Server(data, 0o022)
        log = data / "logs" / "server.log"
        wait_until(lambda: log.read_text().count("owner-only") == 2, timeout=10)
        lines = [ln for ln in log.read_text().splitlines() if "owner-only" in ln]
        assert len(lines) == 2, lines
        assert f"files and folders of {data} and its local repositories owner-only" in lines[0]
        assert int(lines[0].split("Made ")[1].split()[0]) >= 20
        assert f"Could not make 1 files or folders owner-only: {stuck}: Operation not permitted" \
            in lines[1] and "chmod go-rwx" in lines[1]
        assert stat.S_IMODE(stuck.stat().st_mode) == 0o644
        assert_refused(other_user, data)
        for path, mode in {**entries(data), **entries(external)}.items():
            if path.is_relative_to(data / "demo-computers" / "pc") or path == stuck:
                assert mode == (0o755 if path.is_dir() else 0o644), path
            elif not path.is_symlink() and not stat.S_ISSOCK(path.lstat().st_mode):
                assert mode & 0o077 == 0, f"{path} is still {mode:04o}"
        assert {p: m for p, m in entries(outside).items()} == {
            outside: 0o755, outside / "theirs.txt": 0o644}
        seen = as_other(other_user, "ls", str(external / "packs"))
        assert seen.returncode != 0 and "Permission denied" in seen.stderr
    finally:
        if server is not None:
            server.stop()
        subprocess.run(["chattr", "-i", str(stuck)], check=True)


def test_log_files_made_by_rotation_are_owner_only(tmp_path: Path) -> None:
    """Each log file after a rotation is 0600 too, under umask 0o000."""
    script = ("import logging, os, sys; os.umask(0); from pathlib import Path; "
              "from core import logs; logs.MAX_BYTES = 1000; "
              "logs.setup_logging(Path(sys.argv[1]), 'server'); "
              "[logging.getLogger('t').warning('x' * 100) for _ in range(50)]")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "data")], check=True,
                   env=ENV, cwd=ROOT, timeout=60)
    logs = sorted((tmp_path / "data" / "logs").iterdir())
    assert [p.name for p in logs] == ["server.log", "server.log.1", "server.log.2",
                                      "server.log.3"]
    assert {p.name: f"{stat.S_IMODE(p.stat().st_mode):04o}" for p in logs} == {
        p.name: "0600" for p in logs}
    assert f"{stat.S_IMODE((tmp_path / 'data').stat().st_mode):04o}" == "0700"
