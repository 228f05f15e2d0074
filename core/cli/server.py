"""``agent-jobs server [run|status|stop]``."""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from core.errors import InvalidInput
from core.logs import setup_logging
from core.models import StopMode
from core.service.ownership import describe_owner, read_owner
from core.paths import server_socket_path
from core.cli.connect import client
from core.cli.output import print_json

STOP_WAIT_S = 3600.0
NOT_RUNNING = 3   # as `systemctl status` says of a stopped unit


def run(args: argparse.Namespace, data_dir: Path) -> int:
    action = args.server_command
    if action == "status":
        return status(args, data_dir)
    if action == "stop":
        return stop(args, data_dir)
    return serve(args, data_dir)


def _listen_address(text: str | None, tls: bool = False) -> tuple[str, int] | None:
    if text is None:
        if tls:
            raise InvalidInput("--tls needs --listen HOST:PORT, for example --listen "
                               "0.0.0.0:9392 --tls.")
        return None
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        if not sep:
            raise ValueError
        address = ipaddress.ip_address(host)
        number = int(port)
        if not 0 <= number <= 65535:
            raise ValueError
    except ValueError:
        raise InvalidInput(f"--listen '{text}' must be an IP address and port, for example "
                           "127.0.0.1:8750, or 0.0.0.0:9392 with --tls.") from None
    if not address.is_loopback and not tls:
        raise InvalidInput(f"--listen '{text}' is reachable from other machines: add --tls "
                           "(passwords and tokens never cross a network in the clear), or "
                           "listen on loopback only (127.0.0.1:PORT).")
    return host, number


def _ssh_defaults(args: argparse.Namespace) -> None:
    """``--identity`` and ``--known-hosts``: the server's defaults for jobs
    whose SSH settings name no file (kept in its environment)."""
    from core.agents.ssh.agent import IDENTITY_ENV, KNOWN_HOSTS_ENV

    if args.identity is not None:
        key = Path(args.identity).expanduser().absolute()
        if not key.is_file():
            raise InvalidInput(f"--identity: {key} is not a file: give the private key the "
                               "server logs in to Linux computers with.")
        os.environ[IDENTITY_ENV] = str(key)
    if args.known_hosts is not None:
        known = Path(args.known_hosts).expanduser().absolute()
        if known.is_dir() or not known.parent.is_dir():
            raise InvalidInput(f"--known-hosts: {known} cannot be a known_hosts file: give a "
                               "file in an existing folder.")
        os.environ[KNOWN_HOSTS_ENV] = str(known)


def serve(args: argparse.Namespace, data_dir: Path) -> int:
    from core.process.memory import limit_malloc_arenas, tune_gc
    from core.server.priority import lower_priority
    from core.server.runtime import ServerRuntime   # the engine loads only in the server

    from core.server.tls import given

    tcp = _listen_address(args.listen, args.tls)
    tls = given(args.tls_cert, args.tls_key) if args.tls else False
    if not args.tls and (args.tls_cert or args.tls_key):
        raise InvalidInput("--tls-cert and --tls-key need --tls.")
    _ssh_defaults(args)
    setup_logging(data_dir, "server")
    logging.raiseExceptions = False   # a full disk must not turn log lines into tracebacks
    limit_malloc_arenas()
    tune_gc()
    lower_priority(args.nice)   # before any thread starts: threads inherit it
    runtime = ServerRuntime(data_dir, tcp=tcp, idle_exit_s=args.idle_exit, tls=tls)
    runtime.start()

    def on_signal(signum: int, frame: Any) -> None:
        runtime.signal_received()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    where = f"unix:{server_socket_path(data_dir)}"
    if runtime.tcp_address:
        scheme = "https" if tls else "http"
        where += f" and {scheme}://{_host(runtime.tcp_address[0])}:{runtime.tcp_address[1]}"
        if runtime.tls_fingerprint:
            where += f" (TLS certificate SHA-256 fingerprint {runtime.tls_fingerprint})"
    print(f"Backup server for {data_dir} listening on {where}. Ctrl-C stops it (running "
          "jobs gracefully; twice: immediately).", flush=True)
    runtime.serve_forever()
    if runtime.exit_reason:
        print(runtime.exit_reason, file=sys.stderr, flush=True)
    print("Backup server stopped.", flush=True)
    return 0


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def status(args: argparse.Namespace, data_dir: Path) -> int:
    owner = read_owner(data_dir)
    if owner is None:
        if args.json:
            print_json({"running": False, "data_dir": str(data_dir)})
        else:
            print(f"No backup server runs for {data_dir}.")
        return NOT_RUNNING
    with client(data_dir, autostart=False) as api:
        info = api.server_info()
    if args.json:
        print_json({"running": True, **info})
        return 0
    print(f"Backup server {describe_owner(owner)} serves {data_dir}")
    print(f"  socket:  {info.get('socket')}")
    if info.get("tcp") and info.get("tls"):
        print(f"  tcp:     https://{info['tcp']} (TLS; users log in, or the bearer token in "
              "server.token)")
        print(f"  TLS certificate SHA-256 fingerprint: {info.get('tls_fingerprint')}")
    elif info.get("tcp"):
        print(f"  tcp:     http://{info['tcp']} (bearer token in server.token)")
    print(f"  started: {'automatically' if info.get('auto_started') else 'by hand'}")
    running = info.get("running_jobs") or []
    print(f"  running jobs: {', '.join(running) if running else 'none'}")
    print(f"  connected consoles: {info.get('event_streams', 0)}")
    notes = info.get("notifications")
    if isinstance(notes, dict):
        from core.cli.notifications import status_line
        print(f"  notifications: {status_line(notes) if notes.get('configured') or notes.get('sent') or notes.get('failed') else 'not set'}")
    return 0


def stop(args: argparse.Namespace, data_dir: Path) -> int:
    if read_owner(data_dir) is None:
        print(f"No backup server runs for {data_dir}.")
        return 0
    jobs = StopMode(args.jobs) if args.jobs else None
    with client(data_dir, autostart=False) as api:
        answer = api.stop_server(jobs)
    running = answer.get("running_jobs") or []
    if running:
        print(f"Stopping {', '.join(running)} {args.jobs}, then the server...", flush=True)
    deadline = time.monotonic() + STOP_WAIT_S
    waiter = threading.Event()
    while read_owner(data_dir) is not None and time.monotonic() < deadline:
        waiter.wait(0.05)
    print("Backup server stopped.")
    return 0
