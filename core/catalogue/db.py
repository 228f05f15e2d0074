"""Opening the catalogue: per-thread SQLite connections (WAL), transactions,
timestamps, and bringing the schema up to date on open."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from ..errors import RepositoryError
from . import migrations


def _ts(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


_BUSY_WAIT = 30.0  # seconds, as the connections' busy timeout


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting while another connection is switching the same file.

    Changing the journal mode returns SQLITE_BUSY at once, without the busy
    handler, when another connection is doing it too: two processes creating
    the catalogue together would otherwise fail.
    """
    deadline = time.monotonic() + _BUSY_WAIT
    pause = threading.Event()
    while True:
        try:
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            pause.wait(0.005)


class CatalogueDB:
    """The connection layer the table mixins build on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn: sqlite3.Connection | None = None
        try:
            conn = self._open()
            # Before anything that writes (even switching to WAL): a catalogue
            # from a newer version is refused untouched.
            migrations.refuse_if_newer(conn, path)
            self._configure(conn)
            migrations.migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            raise RepositoryError(
                f"The catalogue {path} is unreadable ({exc}). Move it aside and "
                "restart; restore points are re-imported from the repository."
            ) from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        self._local.conn = conn

    # -- connections -------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @staticmethod
    def _configure(conn: sqlite3.Connection) -> None:
        _use_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._configure(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")


    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
