"""Opening the catalogue: per-thread SQLite connections (WAL), transactions,
timestamps, and bringing the schema up to date on open."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from ..errors import ReadOnlyError
from ..private_files import make_dir, touch
from . import migrations
from .errors import translate


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
    """The connection layer the table mixins build on.

    ``read_only`` opens an existing catalogue without ever writing to it or
    its folder (a read-only data directory): no WAL switch, no migration."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self._immutable = False
        self._local = threading.local()
        conn: sqlite3.Connection | None = None
        try:
            if read_only:
                conn = self._open_read_only()
            else:
                make_dir(path.parent)
                # SQLite gives the -wal and -shm files the catalogue's own mode
                touch(path)
                conn = self._open()
                # Before anything that writes (even switching to WAL): a catalogue
                # from a newer version is refused untouched.
                migrations.refuse_if_newer(conn, path)
                self._configure(conn)
                migrations.migrate(conn, path)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, (sqlite3.Error, OSError)) and not read_only \
                    and path.parent.is_dir() and not _writable(path.parent):
                raise ReadOnlyError(
                    f"The data directory {path.parent} is read-only: listing jobs, points and "
                    "sessions, restore and verify work, but nothing can be changed.") from exc
            if isinstance(exc, sqlite3.Error):
                error = translate(exc, path)
                if error is not None:
                    raise error from exc
            raise
        self._local.conn = conn

    # -- connections -------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            return self._connect_ro(immutable=self._immutable)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    def _connect_ro(self, *, immutable: bool) -> sqlite3.Connection:
        mode = "immutable=1" if immutable else "mode=ro"
        conn = sqlite3.connect(f"file:{quote(str(self.path))}?{mode}", uri=True, timeout=30,
                               isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """A reader that sees committed WAL content when the -wal and -shm files
        exist; when they do not (a clean shutdown), the file alone is the whole
        catalogue and is opened immutable."""
        if not self.path.is_file():
            raise ReadOnlyError(
                f"The data directory {self.path.parent} is read-only and holds no catalogue: "
                "there is nothing to list.")
        try:
            conn = self._connect_ro(immutable=False)
            migrations.refuse_if_newer(conn, self.path)
        except sqlite3.OperationalError:
            self._immutable = True
            conn = self._connect_ro(immutable=True)
            migrations.refuse_if_newer(conn, self.path)
        if migrations.user_version(conn) < migrations.latest_version():
            conn.close()
            raise ReadOnlyError(
                f"The catalogue {self.path} needs an upgrade to this version's schema, which a "
                "read-only data directory does not allow: make it writable once.")
        return conn

    @staticmethod
    def _configure(conn: sqlite3.Connection) -> None:
        _use_wal(conn)
        conn.execute("PRAGMA synchronous=NORMAL")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            if not self.read_only:
                self._configure(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        if self.read_only:
            raise ReadOnlyError(
                f"The data directory {self.path.parent} is read-only: listing jobs, points and "
                "sessions, restore and verify work, but nothing can be changed. Make it "
                "writable to run or change jobs.")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:   # SQLite may have rolled back already (disk full)
                conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")


    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)
