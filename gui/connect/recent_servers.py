"""The servers this user connected to, newest first, kept in the console's
settings without their passwords (as the reference console does)."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings

KEY = "connect/recentServers"
MAX_RECENT = 10
DEFAULT_PORT = 9392


@dataclass(frozen=True)
class RecentServer:
    host: str
    port: int = DEFAULT_PORT
    user: str = ""

    @property
    def label(self) -> str:
        """As the Server field shows it (the port has its own field)."""
        return self.host


def load_recent(settings: QSettings) -> list[RecentServer]:
    """What was remembered; rows that do not parse (a hand-edited file) are left out."""
    raw = settings.value(KEY, [])
    rows = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    servers: list[RecentServer] = []
    for row in rows:
        host, _, rest = str(row).partition("\t")
        port_text, _, user = rest.partition("\t")
        if host and port_text.isdigit() and 0 < int(port_text) < 65536:
            servers.append(RecentServer(host, int(port_text), user))
    return servers


def remember(settings: QSettings, server: RecentServer) -> list[RecentServer]:
    """Put ``server`` first; the same host and port appear once (with the last user)."""
    others = [s for s in load_recent(settings) if (s.host, s.port) != (server.host, server.port)]
    servers = [server, *others][:MAX_RECENT]
    settings.setValue(KEY, [f"{s.host}\t{s.port}\t{s.user}" for s in servers])
    return servers
