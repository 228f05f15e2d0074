"""What the Connect window needs from the client side, and nothing else: ask a
server for its certificate's fingerprint (no password is sent), remember a
trusted fingerprint, and log in. ``core.api`` implements it over TLS
(:mod:`gui.connect.tls_backend`); the window never knows how."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.api import BackupApi


@dataclass(frozen=True)
class Probe:
    """The certificate a server showed, and what we knew of it before."""
    fingerprint: str            # SHA-256 of the certificate, hex
    known: str | None           # the fingerprint trusted before, if any

    @property
    def first_time(self) -> bool:
        return self.known is None

    @property
    def changed(self) -> bool:
        return self.known is not None and self.known != self.fingerprint


@dataclass(frozen=True)
class Connected:
    api: BackupApi
    user: str
    role: str                   # the role's name, e.g. "Operator"
    address: str                # "host:port"


@dataclass(frozen=True)
class NeedsCode:
    """The user has a second factor: ask for the code and log in again."""


class ConnectBackend(Protocol):
    def probe(self, host: str, port: int) -> Probe: ...

    def trust(self, host: str, port: int, fingerprint: str) -> None: ...

    def known_servers_file(self) -> str: ...

    def login(self, host: str, port: int, fingerprint: str, user: str, password: str,
              code: str | None) -> Connected | NeedsCode: ...
