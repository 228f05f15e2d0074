"""The real backup server, hosted in the test process.

``ServerRuntime`` is what ``agent-jobs server run`` runs: the service, the
scheduler, the REST API and the event stream on the data directory's Unix
socket. Hosting it here lets a test hold the engine at a
:class:`~tests.support.gate.TaskGate` while the console talks to it over HTTP
exactly as it does in production."""
from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from core.models import StopMode
from core.service.ownership import read_owner
from core.server.runtime import ServerRuntime
from core.service.facade import BackupService

from tests.support.gate import TaskGate


def start_server(data_dir: Path, gate: TaskGate | None = None,
                 tcp: tuple[str, int] | None = None) -> ServerRuntime:
    runtime = ServerRuntime(data_dir, hooks=gate, tcp=tcp)
    runtime.start()
    return runtime


def stop_server(runtime: ServerRuntime, gate: TaskGate | None = None) -> None:
    """Release held tasks, stop what still runs immediately, and shut down."""
    if gate is not None:
        gate.release_all()
    service = runtime.service
    if service is not None:
        stop_all(service)
    runtime.request_shutdown(StopMode.IMMEDIATELY)
    runtime.shutdown()


def stop_all(service: BackupService, timeout: float = 10.0) -> None:
    service.stop_jobs(service.running_jobs(), StopMode.IMMEDIATELY)
    deadline = time.monotonic() + timeout
    waiter = threading.Event()
    while service.running_jobs() and time.monotonic() < deadline:
        waiter.wait(0.01)


def kill_servers_under(root: Path) -> list[int]:
    """SIGKILL every server process that owns a data directory under ``root``
    (servers the CLI or the console started for a test)."""
    killed = []
    for lock in root.rglob("server.lock"):
        owner = read_owner(lock.parent)
        pid = int(owner.get("pid", 0)) if owner else 0
        if pid and pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    waiter = threading.Event()
    for lock in root.rglob("server.lock"):
        while read_owner(lock.parent) is not None and time.monotonic() < deadline:
            waiter.wait(0.01)
    return killed


def iter_locks(root: Path) -> Iterator[Path]:
    yield from root.rglob("server.lock")
