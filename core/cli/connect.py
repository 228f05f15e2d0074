"""The CLI's connection: the data directory's server (its socket, started when
none runs), or with ``--server https://HOST:PORT`` (or $AGENT_JOBS_SERVER) a
server on another machine, over TLS with its certificate pinned, as a named
user (``--user``/``--password-file`` or $AGENT_JOBS_USER/$AGENT_JOBS_PASSWORD)."""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from core.errors import CodeRequired, ConsoleError, InvalidInput
from core.paths import is_read_only
from core.api.client import ServerClient
from core.api.launcher import server_answers
from core.api.remote import (
    ENV_CODE, ENV_FINGERPRINT, ENV_PASSWORD, ENV_SERVER, ENV_USER, FingerprintMismatch,
    KnownServers, login, parse_server, probe,
)
from core.api.tls import normalise_fingerprint
from core.cli.output import read_password_file


@dataclass
class Remote:
    server: str
    user: str | None
    password_file: str | None
    fingerprint: str | None
    trust: bool
    code: str | None
    known_servers: Path | None = None


_remote: Remote | None = None


def configure(args: argparse.Namespace) -> Remote | None:
    """Read the remote options once, before the command runs (None: this machine)."""
    global _remote
    server = getattr(args, "remote_server", None) or os.environ.get(ENV_SERVER) or None
    _remote = None if server is None else Remote(
        server=server, user=getattr(args, "remote_user", None) or os.environ.get(ENV_USER),
        password_file=getattr(args, "remote_password_file", None),
        fingerprint=getattr(args, "fingerprint", None) or os.environ.get(ENV_FINGERPRINT),
        trust=bool(getattr(args, "trust", False)),
        code=getattr(args, "code", None) or os.environ.get(ENV_CODE),
        known_servers=Path(args.known_servers) if getattr(args, "known_servers", None)
        else None)
    return _remote


def _password(remote: Remote) -> SecretStr:
    if remote.password_file is not None:
        return SecretStr(read_password_file(remote.password_file, "--password-file"))
    env = os.environ.get(ENV_PASSWORD)
    if env:
        return SecretStr(env)
    if sys.stdin.isatty():
        return SecretStr(getpass.getpass(f"Password of {remote.user} on {remote.server}: "))
    raise InvalidInput(f"No password for {remote.user}: give --password-file FILE (the "
                       f"password on its first line) or set {ENV_PASSWORD}.")


def _trusted_fingerprint(remote: Remote, host: str, port: int) -> str:
    """The fingerprint to pin: given, known, or (first use) accepted with --trust or
    at the prompt. A mismatch is refused here, before any password is read or sent."""
    known = KnownServers(remote.known_servers)
    seen = probe(host, port)
    if remote.fingerprint is not None:
        wanted = normalise_fingerprint(remote.fingerprint)
        if seen != wanted:
            raise FingerprintMismatch(
                f"The backup server at {host}:{port} presented a certificate with "
                f"fingerprint {seen}, not the {wanted} given with --fingerprint: refused "
                "before sending any password.")
        if known.lookup(host, port) is None:
            known.remember(host, port, seen)
        return seen
    kept = known.lookup(host, port)
    if kept is not None:
        if kept != seen:
            raise FingerprintMismatch(
                f"WARNING: the certificate of the backup server at {host}:{port} has "
                f"changed: it is now {seen}, it was {kept} ({known.path}). Someone may be "
                "intercepting the connection; nothing was sent. If the server's certificate "
                "was replaced on purpose, check the new fingerprint with its administrator "
                f"and remove the line for {host}:{port} from {known.path}.")
        return seen
    if not remote.trust:
        if not sys.stdin.isatty():
            raise FingerprintMismatch(
                f"The backup server at {host}:{port} is not known yet; its certificate's "
                f"SHA-256 fingerprint is {seen}. Check it with the server's administrator "
                "('agent-jobs server status' there), then give --fingerprint HEX or "
                "--trust.")
        answer = input(f"The authenticity of the backup server {host}:{port} can't be "
                       f"established.\nIts certificate's SHA-256 fingerprint is {seen}.\n"
                       "Trust it and remember it (yes/no)? ")
        if answer.strip().lower() not in ("y", "yes"):
            raise FingerprintMismatch(f"Not trusted: nothing was sent to {host}:{port}.")
    known.remember(host, port, seen)
    print(f"Remembered the backup server {host}:{port} in {known.path}.", file=sys.stderr)
    return seen


def remote_client(remote: Remote, data_dir: Path) -> ServerClient:
    host, port = parse_server(remote.server)
    if not remote.user:
        raise InvalidInput(f"--server {remote.server}: give --user NAME (or set {ENV_USER}).")
    fingerprint = _trusted_fingerprint(remote, host, port)
    password = _password(remote)
    try:
        return login(host, port, fingerprint, remote.user, password, remote.code,
                     data_dir=data_dir)
    except CodeRequired:
        if not sys.stdin.isatty():
            raise CodeRequired(f"{remote.user} logs in with a second factor: give --code "
                               f"CODE (or set {ENV_CODE}) with the authenticator app's "
                               "current code.") from None
        code = input("Authenticator code: ").strip()
        return login(host, port, fingerprint, remote.user, password, code,
                     data_dir=data_dir)


@contextmanager
def client(data_dir: Path, *, autostart: bool = True,
           args: argparse.Namespace | None = None) -> Iterator[ServerClient]:
    """The data directory's server; on a read-only data directory that no
    server serves, the in-process read-only access (core.service.offline): reading
    commands work, changing ones say "read-only". With --server: that server."""
    if _remote is not None:
        api = remote_client(_remote, data_dir)
        try:
            yield api
        finally:
            api.close()
        return
    if is_read_only(data_dir) and not server_answers(data_dir):
        from core.service.offline import ReadOnlyService   # loads the catalogue and repository

        offline = ReadOnlyService(data_dir)
        try:
            yield offline   # type: ignore[misc]
        finally:
            offline.close()
        return
    api = ServerClient(data_dir, autostart=autostart)
    try:
        yield api
    finally:
        api.close()


__all__ = ["client", "configure", "remote_client", "ConsoleError"]
