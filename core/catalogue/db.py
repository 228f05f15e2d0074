"""Opening the catalogue: per-thread SQLite connections (WAL), transactions,
timestamps, and bringing the schema up to date on open.

Every connection is registered with the thread that opened it and is closed
deterministically: by :meth:`CatalogueDB.release_thread` when a thread that is
done with the catalogue says so (session and task threads do), by the next
open on any thread once its owner thread has ended (request worker threads),
and by :meth:`CatalogueDB.close`. A connection is never left to the garbage
collector: ``sqlite3.Connection`` sits in a reference cycle with its statement
cache, so a dead thread's connection (the database file and its ``-wal``)
stayed open until a full collection, four descriptors per session."""
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

from core.errors import CatalogueError, ReadOnlyError
from core.process.fdlimit import out_of_descriptors, too_many_open_files
from core.process.private_files import make_dir, touch
from core.catalogue import migrations
from core.catalogue.errors import translate


def _ts(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _dt(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s) if s else None


def _created(s: str) -> datetime:
    """A NOT NULL time column (``created``); a damaged value raises ValueError,
    which :func:`translate` reports as a damaged catalogue."""
    return datetime.fromisoformat(s)


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
        # Every open connection, with the thread it belongs to.
        self._open_conns: dict[int, tuple[threading.Thread, sqlite3.Connection]] = {}
        self._conns_lock = threading.Lock()
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
            if isinstance(exc, OSError):   # creating it, owner-only, before SQLite opens it
                if out_of_descriptors(exc):
                    raise CatalogueError(too_many_open_files(f"the catalogue {path}")) from exc
                raise CatalogueError(
                    f"Cannot create the catalogue {path}: {exc.strerror or exc}. Check that "
                    "its disk has free space and that the folder is writable.") from exc
            raise
        self._adopt(conn)

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
            self._close_orphans()
            conn = self._open()
            try:
                if not self.read_only:
                    self._configure(conn)
            except BaseException:
                conn.close()
                raise
            self._adopt(conn)
        return conn

    def _adopt(self, conn: sqlite3.Connection) -> None:
        """Make ``conn`` the calling thread's connection."""
        self._local.conn = conn
        with self._conns_lock:
            self._open_conns[id(conn)] = (threading.current_thread(), conn)

    def _close_orphans(self) -> None:
        """Close the connections of threads that have ended."""
        with self._conns_lock:
            dead = [key for key, (thread, _c) in self._open_conns.items()
                    if not thread.is_alive()]
            orphans = [self._open_conns.pop(key)[1] for key in dead]
        for conn in orphans:
            _close_quietly(conn)

    @property
    def open_connections(self) -> int:
        """How many connections are open now (for tests and diagnostics)."""
        with self._conns_lock:
            return len(self._open_conns)

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


    def release_thread(self) -> None:
        """Close the calling thread's connection (a thread about to end calls
        this; the next call on the thread opens a new one)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._conns_lock:
            self._open_conns.pop(id(conn), None)
        _close_quietly(conn)

    def close(self) -> None:
        """Close the calling thread's connection and those of ended threads.
        Threads still running keep theirs until they release them or end (a
        session that goes on while the server exits must not lose its catalogue)."""
        self.release_thread()
        self._close_orphans()


def _close_quietly(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)
