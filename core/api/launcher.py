"""Finds the data directory's server and starts one when none answers, the
way gpg-agent is started on demand: detached, in its own session, logging to
``DATA_DIR/logs``. Several clients starting at once end with one server: the
others lose the race for the data directory and exit."""
from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from core.errors import ConsoleError
from core.process.owner_record import describe_owner, read_owner
from core.paths import logs_dir, server_socket_path
from core.process.private_files import make_dir, open_file
from core.api.sockets import unix_address

START_TIMEOUT_S = 30.0
OWNER_WAIT_S = 5.0   # a live owner without a socket: how long to wait for it to answer or exit
AUTO_IDLE_EXIT_S = 600
ENV_IDLE_EXIT = "AGENT_JOBS_SERVER_IDLE_EXIT"   # seconds; for tests and special setups


class ServerUnavailable(ConsoleError):
    """No server answers for the data directory, and none could be started."""


def server_answers(data_dir: Path) -> bool:
    """Whether a server accepts connections on the data directory's socket."""
    path = server_socket_path(data_dir)
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(unix_address(path))
        except OSError:
            return False
    return True


def unreachable_owner(data_dir: Path) -> ServerUnavailable | None:
    """The error for a live owner of ``data_dir`` that does not answer on its
    socket (shutting down, or its socket file was deleted); None without owner."""
    owner = read_owner(data_dir)
    if owner is None:
        return None
    path = server_socket_path(data_dir)
    why = "its socket file is missing" if not path.exists() else "it refuses connections"
    pid = owner.get("pid")
    end = f"end it with 'kill {pid}' (running jobs stop gracefully)" if pid else \
        "stop the process that holds server.lock"
    return ServerUnavailable(
        f"The backup server {describe_owner(owner)} owns {data_dir} but does not answer on "
        f"{path}: {why}. It may be shutting down: wait for it to exit and try again; if it "
        f"stays, {end}, and the next command starts a new one.")


def lasting_unreachable_owner(data_dir: Path,
                              timeout: float = OWNER_WAIT_S) -> ServerUnavailable | None:
    """Wait while a live owner has no answering socket (a server starting up,
    shutting down or dying); None once a server answers or no one owns the data
    directory, the error of :func:`unreachable_owner` if that lasts ``timeout``."""
    deadline = time.monotonic() + timeout
    waiter = threading.Event()
    while True:
        if server_answers(data_dir):
            return None
        error = unreachable_owner(data_dir)
        if error is None or time.monotonic() >= deadline:
            return error
        waiter.wait(0.05)


def ensure_server(data_dir: Path, timeout: float = START_TIMEOUT_S) -> None:
    """Return once a server answers for ``data_dir``, starting one if needed."""
    if server_answers(data_dir):
        return
    if data_dir.exists() and not data_dir.is_dir():
        raise ServerUnavailable(f"Data directory {data_dir} is a file, not a folder. "
                                "Choose another one with --data-dir.")
    try:
        make_dir(data_dir)
        logs = logs_dir(data_dir)
        make_dir(logs)
    except OSError as exc:
        raise ServerUnavailable(f"Cannot use data directory {data_dir}: {exc.strerror}. "
                                "Choose another one with --data-dir.") from exc
    # One launcher at a time per data directory; the others wait for its server.
    with os.fdopen(open_file(data_dir / "server.launch", os.O_RDWR | os.O_APPEND),
                   "a+b") as launch_lock:
        fcntl.flock(launch_lock.fileno(), fcntl.LOCK_EX)
        stuck = lasting_unreachable_owner(data_dir)
        if stuck is not None:
            raise stuck
        if server_answers(data_dir):
            return
        out = logs / "server.out"
        proc = _spawn(data_dir, out)
        deadline = time.monotonic() + timeout
        waiter = threading.Event()
        while time.monotonic() < deadline:
            if server_answers(data_dir):
                return
            if proc.poll() is not None and not server_answers(data_dir):
                raise ServerUnavailable(
                    f"The backup server for {data_dir} could not start: "
                    f"{_last_line(out) or f'it exited with code {proc.returncode}'}")
            waiter.wait(0.03)
    raise ServerUnavailable(f"The backup server for {data_dir} did not answer within "
                            f"{timeout:.0f} s. See {out}.")


def _spawn(data_dir: Path, out: Path) -> subprocess.Popen[bytes]:
    idle = os.environ.get(ENV_IDLE_EXIT, str(AUTO_IDLE_EXIT_S))
    cmd = [sys.executable, "-m", "core.cli", "--data-dir", str(data_dir), "server", "run",
           "--idle-exit", idle]
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(
        os.pathsep) if p])
    with os.fdopen(open_file(out, os.O_WRONLY | os.O_APPEND), "ab") as log_file:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                start_new_session=True, env=env, close_fds=True)


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1].removeprefix("error: ") if lines else ""
