"""Runs the backup server: the service, its scheduler and the HTTP listeners.

The listeners run on an asyncio loop in a background thread; the thread that
calls :meth:`ServerRuntime.serve_forever` waits for a reason to exit (a
signal, ``server stop``, or idleness of an auto-started server) and then
shuts down in order: stop sessions as asked, wait for them, close the
listeners, release the data directory.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from pathlib import Path
from typing import Any

import uvicorn

from core.events import Event, SessionChanged
from core.engine.hooks import EngineHooks
from core.models import StopMode, utcnow
from core.paths import server_socket_path, server_token_path
from core.service.facade import BackupService
from core.server.app import ServerControl, create_app
from core.server.auth import local_socket, tcp_listener
from core.server.events_hub import EventHub
from core.server.tls import TlsFiles, ensure_self_signed
from core.api.sockets import bind_tcp, bind_unix, ensure_token, socket_identity, unlink_own_socket

log = logging.getLogger(__name__)

TICK_S = 0.5
SESSION_STOP_WAIT_S = 3600.0


class ServerRuntime(ServerControl):
    def __init__(self, data_dir: Path, *, tcp: tuple[str, int] | None = None,
                 idle_exit_s: float | None = None, hooks: EngineHooks | None = None,
                 tls: TlsFiles | bool = False) -> None:
        """``tls``: the TCP listener speaks TLS with these files, or (True) with the
        server's own self-signed certificate, made once the data directory is ours."""
        self.data_dir = Path(data_dir)
        self.tcp = tcp
        self._tls_wanted = tls
        self.tls: TlsFiles | None = None
        self.tls_fingerprint: str | None = None
        self.idle_exit_s = idle_exit_s
        self._hooks = hooks
        self.service: BackupService | None = None
        self._servers: list[uvicorn.Server] = []
        self._thread: threading.Thread | None = None
        self._exit = threading.Event()
        self._stop_mode: StopMode | None = None
        self._escalate = threading.Event()
        self._activity = threading.Event()
        self._started_at = utcnow()
        self.tcp_address: tuple[str, int] | None = None
        self._socket_id: tuple[int, int] | None = None   # the socket file we bound
        self._data_dir_id: tuple[int, int] | None = None  # the folder we serve (dev, inode)
        self.exit_reason: str | None = None   # why the server left by itself, for its output

    # -- ServerControl ----------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "started": self._started_at.isoformat(),
                "socket": str(server_socket_path(self.data_dir)),
                "tcp": f"{self.tcp_address[0]}:{self.tcp_address[1]}" if self.tcp_address
                else None,
                "tls": self.tls is not None and self.tcp_address is not None,
                "tls_fingerprint": self.tls_fingerprint if self.tcp_address else None,
                "auto_started": self.idle_exit_s is not None}

    def request_shutdown(self, jobs: StopMode | None) -> None:
        """Exit once the sessions are stopped ``jobs`` (or have ended by themselves)."""
        if jobs is StopMode.IMMEDIATELY:
            self._escalate.set()
        if self._stop_mode is None or jobs is StopMode.IMMEDIATELY:
            self._stop_mode = jobs
        self._exit.set()

    def signal_received(self) -> None:
        """SIGTERM/SIGINT: the first stops jobs gracefully, the second immediately."""
        if self._exit.is_set():
            self.request_shutdown(StopMode.IMMEDIATELY)
        else:
            self.request_shutdown(StopMode.GRACEFULLY)

    # -- life ---------------------------------------------------------------------------
    def start(self) -> None:
        """Own the data directory and listen; raises DataDirBusy if another server does."""
        self.service = service = BackupService(self.data_dir, hooks=self._hooks)
        try:
            self._data_dir_id = _identity(self.data_dir)
            if self._tls_wanted is not False:
                self.tls = self._tls_wanted if isinstance(self._tls_wanted, TlsFiles) \
                    else ensure_self_signed(self.data_dir)
                self.tls_fingerprint = self.tls.fingerprint()
            token = ensure_token(server_token_path(self.data_dir))
            hub = EventHub(service.subscribe)
            self._hub = hub
            app = create_app(service, self, hub)
            listeners: list[tuple[Any, Any]] = [
                (local_socket(app), bind_unix(server_socket_path(self.data_dir)))]
            self._socket_id = socket_identity(server_socket_path(self.data_dir))
            if self.tcp is not None:
                sock = bind_tcp(*self.tcp)
                self.tcp_address = sock.getsockname()[:2]
                listeners.append((tcp_listener(app, token, service.users), sock))
            self._servers = [
                uvicorn.Server(uvicorn.Config(asgi, lifespan="off", log_config=None,
                                              access_log=False, timeout_graceful_shutdown=2,
                                              **self._ssl_options(i)))
                for i, (asgi, _sock) in enumerate(listeners)]
            ready = threading.Event()
            self._thread = threading.Thread(target=self._serve, args=(listeners, ready),
                                            name="http", daemon=True)
            self._thread.start()
            ready.wait(30)
            if not all(s.started for s in self._servers):
                raise RuntimeError("the HTTP listeners did not start")
            service.subscribe(self._on_event)
            service.start_scheduler()
            service.ownership_update(**{k: v for k, v in self.info().items()
                                        if k in ("socket", "tcp", "auto_started")})
        except BaseException:
            self._close_listeners()
            service.close()
            raise
        log.info("server %d serving %s (niceness %d, gc thresholds %s)", os.getpid(),
                 self.data_dir, os.nice(0), ",".join(map(str, gc.get_threshold())))
        if self.tcp_address is not None and self.tls_fingerprint is not None:
            log.info("TLS listener on %s:%d, certificate SHA-256 fingerprint %s",
                     self.tcp_address[0], self.tcp_address[1], self.tls_fingerprint)

    def _ssl_options(self, listener: int) -> dict[str, Any]:
        """The TCP listener (the second) speaks only TLS when asked: a plain HTTP
        request to it fails its handshake and is never served."""
        if listener == 0 or self.tls is None:
            return {}
        return {"ssl_certfile": str(self.tls.cert), "ssl_keyfile": str(self.tls.key)}

    def _serve(self, listeners: list[tuple[Any, Any]], ready: threading.Event) -> None:
        async def main() -> None:
            tasks = [asyncio.create_task(server.serve(sockets=[sock]))
                     for server, (_app, sock) in zip(self._servers, listeners)]
            while not all(s.started for s in self._servers) and \
                    not any(t.done() for t in tasks):
                await asyncio.sleep(0.01)
            ready.set()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run(main())
        except Exception:
            log.exception("the HTTP listeners failed")
        finally:
            ready.set()
            self._exit.set()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, SessionChanged):
            self._activity.set()

    def serve_forever(self) -> None:
        """Block until asked to exit, then shut down."""
        idle_since = utcnow()
        while not self._exit.wait(TICK_S):
            gone = self._data_dir_gone()
            if gone is not None:
                self.exit_reason = (
                    f"The data directory {self.data_dir} {gone} while this server ran: "
                    "stopping its jobs immediately and exiting (nothing more can be recorded "
                    "there). The next command starts a server for the new folder.")
                log.warning("%s", self.exit_reason)
                self.request_shutdown(StopMode.IMMEDIATELY)
                break
            if self.idle_exit_s is None:
                continue
            if self._activity.is_set() or not self._idle():
                self._activity.clear()
                idle_since = utcnow()
            elif (utcnow() - idle_since).total_seconds() >= self.idle_exit_s:
                log.info("idle for %.0f s with nothing scheduled: exiting", self.idle_exit_s)
                break
        self.shutdown()

    def _data_dir_gone(self) -> str | None:
        """What happened to the data directory if it is no longer the folder this
        server opened (deleted, or replaced by a new one); one stat a tick."""
        if self._data_dir_id is None:
            return None
        try:
            now = _identity(self.data_dir)
        except FileNotFoundError:
            return "was deleted"
        except OSError:
            return None   # unreadable for a moment (EIO, EACCES): not proof that it is gone
        if now != self._data_dir_id:
            return "was deleted and made again (or another folder was put in its place)"
        return None

    def _idle(self) -> bool:
        service = self.service
        assert service is not None
        return not service.running_jobs() and not service.running_operations() and \
            not service.has_schedules() and self._hub.stream_count == 0

    def shutdown(self) -> None:
        service = self.service
        if service is None:
            return
        self._stop_sessions(service)
        self._hub.close()
        self._close_listeners()
        service.close()
        self.service = None
        log.info("server %d stopped", os.getpid())

    def _stop_sessions(self, service: BackupService) -> None:
        """Stop the jobs that work; paused ones stay paused (their record is durable: the
        next start restores them Paused)."""
        running = service.working_jobs()
        paused = service.paused_jobs()
        if paused:
            log.info("leaving %s paused: resumed after the next start", ", ".join(paused))
        if not running:
            return
        mode = self._stop_mode or StopMode.GRACEFULLY
        log.info("stopping %s %s before exiting", ", ".join(running), mode.value)
        service.stop_jobs(running, mode)
        escalated = mode is StopMode.IMMEDIATELY
        waiter = threading.Event()
        deadline = SESSION_STOP_WAIT_S
        while service.working_jobs() and deadline > 0:
            if not escalated and self._escalate.is_set():
                escalated = True
                service.stop_jobs(service.working_jobs(), StopMode.IMMEDIATELY)
            waiter.wait(0.05)
            deadline -= 0.05

    def _close_listeners(self) -> None:
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        path = server_socket_path(self.data_dir)
        if self._socket_id is not None and not unlink_own_socket(path, self._socket_id):
            log.info("the socket %s is gone or another server's: left as it is", path)
        self._socket_id = None


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
