"""Reaching a backup server on another machine (issue 23): over TLS, its
certificate pinned by fingerprint, as a named user.

The console's Connect dialog and the CLI's ``--server`` use the same three steps::

    fingerprint = probe(host, port)          # 1. nothing is sent but a TLS handshake
    # 2. compare it with the pinned one (KnownServers), or ask the user (first use)
    api = login(host, port, fingerprint, user, password, code)   # 3. a ServerClient
    # raises FingerprintMismatch (before any password is sent), CodeRequired (TOTP:
    # ask for the code and call login again with it), Unauthorized, TooManyAttempts

The client keeps the credentials in memory and logs in again by itself when its
token ends (idle too long, or the server restarted).
"""
from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from core import errors
from core.api.client import ServerClient, request_timeout
from core.api.tls import FingerprintMismatch, normalise_fingerprint, pinned_context
from core.api.tls import probe as _probe

DEFAULT_PORT = 9392
ENV_SERVER = "AGENT_JOBS_SERVER"
ENV_USER = "AGENT_JOBS_USER"
ENV_PASSWORD = "AGENT_JOBS_PASSWORD"
ENV_FINGERPRINT = "AGENT_JOBS_FINGERPRINT"
ENV_CODE = "AGENT_JOBS_CODE"

__all__ = ["DEFAULT_PORT", "FingerprintMismatch", "KnownServers", "Credentials",
           "parse_server", "probe", "login", "known_servers_path"]


def parse_server(text: str) -> tuple[str, int]:
    """``https://HOST[:PORT]`` (or ``HOST[:PORT]``) as (host, port)."""
    raw = text.strip()
    parts = urlsplit(raw if "://" in raw else f"https://{raw}")
    if parts.scheme != "https":
        raise errors.InvalidInput(f"--server {text!r}: a backup server is reached over TLS "
                                  "only: give https://HOST:PORT.")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        port = -1
    if not parts.hostname or port <= 0 or parts.path not in ("", "/"):
        raise errors.InvalidInput(f"--server {text!r} is not https://HOST:PORT (for example "
                                  f"https://backup.example.com:{DEFAULT_PORT}).")
    return parts.hostname, port


def probe(host: str, port: int) -> str:
    """The SHA-256 fingerprint (hex) of the certificate the server presents; only a
    TLS handshake is sent."""
    return _probe(host, port)[0]


@dataclass(frozen=True)
class Credentials:
    user: str
    password: SecretStr
    code: str | None = None


def _post_login(http: httpx.Client, credentials: Credentials) -> str:
    body = {"user": credentials.user, "password": credentials.password.get_secret_value()}
    if credentials.code:
        body["code"] = credentials.code
    try:
        answer = http.post("/login", json=body)
    except ssl.SSLError as exc:
        raise FingerprintMismatch(
            f"The server's certificate changed between the check and the login ({exc}): "
            "nothing was sent. Check with its administrator.") from exc
    except httpx.ConnectError as exc:
        if isinstance(exc.__cause__, ssl.SSLError) or "CERTIFICATE" in str(exc).upper():
            raise FingerprintMismatch(
                "The server presented another certificate than the pinned one: nothing was "
                "sent. Check with its administrator.") from exc
        raise errors.ConsoleError(f"Cannot reach the backup server ({exc}).") from exc
    if answer.status_code >= 400:
        try:
            data = answer.json()
            raise errors.from_wire(str(data.get("kind", "")), str(data["error"]))
        except (ValueError, KeyError, TypeError):
            raise errors.ConsoleError(f"The backup server answered {answer.status_code} to "
                                      "the login.") from None
    return str(answer.json()["token"])


def login(host: str, port: int, fingerprint: str, user: str, password: SecretStr | str,
          code: str | None = None, *, data_dir: Path | None = None) -> ServerClient:
    """A client logged in as ``user`` on the server whose certificate has ``fingerprint``.
    The certificate is checked before anything is sent; the login's connection then
    trusts that certificate alone."""
    pinned = normalise_fingerprint(fingerprint)
    seen, der = _probe(host, port)
    if seen != pinned:
        raise FingerprintMismatch(
            f"The backup server at {host}:{port} presented a certificate with fingerprint "
            f"{seen}, not the pinned {pinned}: refused before sending any password. If the "
            "server's certificate was replaced on purpose, check the new fingerprint with "
            "its administrator ('agent-jobs server status' there).")
    context = pinned_context(der)
    credentials = Credentials(user, password if isinstance(password, SecretStr)
                              else SecretStr(password), code)
    base = f"https://{'[' + host + ']' if ':' in host else host}:{port}"
    with httpx.Client(base_url=base + "/api/v1", verify=context,
                      timeout=httpx.Timeout(request_timeout(), connect=10.0)) as http:
        token = _post_login(http, credentials)
    client = ServerClient(data_dir or Path.cwd(), base_url=base, token=token, verify=context)

    def relogin() -> str:
        with httpx.Client(base_url=base + "/api/v1", verify=context,
                          timeout=httpx.Timeout(request_timeout(), connect=10.0)) as again:
            return _post_login(again, Credentials(credentials.user, credentials.password))

    client.relogin = relogin
    client.user = user
    client.fingerprint = pinned
    return client


def known_servers_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agent-jobs" / "known_servers"


class KnownServers:
    """``HOST:PORT SHA256HEX`` lines, like SSH's known_hosts: the fingerprint each
    server was trusted with the first time."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or known_servers_path()

    @staticmethod
    def _key(host: str, port: int) -> str:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def lookup(self, host: str, port: int) -> str | None:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return None
        key = self._key(host, port)
        for line in lines:
            fields = line.split()
            if len(fields) >= 2 and fields[0] == key:
                return fields[1].lower()
        return None

    def remember(self, host: str, port: int, fingerprint: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = self._key(host, port)
        try:
            kept = [line for line in self.path.read_text().splitlines()
                    if line.split()[:1] != [key]]
        except FileNotFoundError:
            kept = []
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(f"{line}\n" for line in [*kept, f"{key} {fingerprint}"]))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
