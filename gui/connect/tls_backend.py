"""The Connect window's backend over the real thing: ``core.api.remote`` (a TLS
handshake to read the certificate, the known-servers file shared with the CLI,
the login that pins the certificate and sends the password only then)."""
from __future__ import annotations

from core import errors
from core.api.remote import KnownServers, login, probe

from gui.connect.backend import Connected, NeedsCode, Probe


class TlsConnectBackend:
    def __init__(self, known: KnownServers | None = None) -> None:
        self._known = known or KnownServers()

    def probe(self, host: str, port: int) -> Probe:
        return Probe(probe(host, port), self._known.lookup(host, port))

    def trust(self, host: str, port: int, fingerprint: str) -> None:
        self._known.remember(host, port, fingerprint)

    def known_servers_file(self) -> str:
        return str(self._known.path)

    def login(self, host: str, port: int, fingerprint: str, user: str, password: str,
              code: str | None) -> Connected | NeedsCode:
        try:
            client = login(host, port, fingerprint, user, password, code)
        except errors.CodeRequired:
            return NeedsCode()
        try:
            me = client.whoami()
        except BaseException:
            client.close()
            raise
        address = f"{'[' + host + ']' if ':' in host else host}:{port}"
        return Connected(client, me.user, me.role.label, address)
