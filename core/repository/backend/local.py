"""The local-folder back end: objects are files under the repository root.

Everything in the folder is owner-only (0700 folders, 0600 files, whatever
the umask): the packs hold the backed-up files' contents.

Saves are durable (temp file in ``tmp/``, fsync, rename, directory fsync);
ranged loads of packs use ``os.pread`` on a small pool of cached descriptors
(packs never change once written, so a descriptor stays valid). The lock is
flock(2) on the ``lock`` file: each lock opens its own descriptor, so two
writers in one process conflict like two processes do, and the kernel drops
the lock when the process dies (no stale locks)."""
from __future__ import annotations

import builtins
import errno
import fcntl
import os
import secrets
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from core.errors import RepositoryError
from core.process.fdlimit import out_of_descriptors, too_many_open_files
from core.process.private_files import DIR_MODE, FILE_MODE, make_dir, set_mode, touch

from core.repository.backend import direct
from core.repository.backend.base import CANCEL_POLL, BackendError, LockCancel, ObjectInfo, ObjectNotFound, Usage, \
    is_cancelled, wait_or_cancel

TMP_DIR = "tmp"
LOCK_FILE = "lock"
SKELETON = ("packs", "index", "points", "keys", TMP_DIR)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
_CACHED_PREFIX = "packs/"   # immutable objects read in ranges: worth a cached descriptor
_MAX_OPEN = 64
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
_IOV = 512   # buffers per writev (IOV_MAX is 1024 on Linux)


def _backend_error(exc: OSError, path: Path) -> OSError:
    if isinstance(exc, FileNotFoundError):
        return ObjectNotFound(errno.ENOENT, exc.strerror or "No such file or directory",
                              str(path))
    err = BackendError(exc.errno, exc.strerror or str(exc), str(path))
    err.__cause__ = exc
    return err


def _write_all(fd: int, parts: Sequence[bytes | bytearray | memoryview]) -> None:
    for i in range(0, len(parts), _IOV):
        group = [memoryview(p) for p in parts[i:i + _IOV] if len(p)]
        while group:
            n = os.writev(fd, group)
            while group and n >= len(group[0]):   # drop what was written
                n -= len(group[0])
                group.pop(0)
            if group and n:
                group[0] = group[0][n:]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalLock:
    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self._held = True

    @property
    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        self._held = False
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock

    def __enter__(self) -> LocalLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def _flock_holder(fd: int) -> str:
    """Who holds a flock on the file of ``fd``, from /proc/locks (Linux):
    ``host (pid 12, prune or repair)``; vaguer where that cannot be read."""
    st = os.fstat(fd)
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    found: list[tuple[int, str]] = []
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK":    # "->" marks a waiter
            continue
        try:
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
            pid = int(fields[4])
        except ValueError:
            continue
        if key == want:
            found.append((pid, "prune or repair" if fields[3] == "WRITE"
                          else "backup, restore or verify"))
    if not found:
        return "another process"
    pids = ", ".join(f"pid {pid}" for pid, _ in found[:3])
    return f"{socket.gethostname()} ({pids}, {found[0][1]})"


class LocalBackend:
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()
        self._tmp = self.root / TMP_DIR
        self._dirs: set[Path] = set()        # folders known to exist
        self._fds: OrderedDict[str, list[int]] = OrderedDict()   # name -> [fd, users]
        self._doomed: set[int] = set()       # fds to close when their last user is done
        self._fd_lock = threading.Lock()
        self._direct = direct.available()   # packs are written unbuffered where possible

    @property
    def location(self) -> str:
        return str(self.root)

    def path(self, name: str) -> Path:
        return self.root / name

    # -- writing -------------------------------------------------------------

    def _ensure_parent(self, path: Path) -> None:
        parent = path.parent
        if parent in self._dirs:
            return
        missing: list[Path] = []
        d = parent
        while d != self.root and not d.is_dir():
            missing.append(d)
            d = d.parent
        for d in reversed(missing):
            try:
                os.mkdir(d, DIR_MODE)
            except FileExistsError:
                continue
            set_mode(d, DIR_MODE)
            fsync_dir(d.parent)
        self._dirs.add(parent)

    def save(self, name: str, data: bytes | bytearray | memoryview) -> None:
        self.save_parts(name, [data])

    def save_parts(self, name: str, parts: Sequence[bytes | bytearray | memoryview]) -> None:
        """``save`` of the parts' concatenation, written with writev (no copy
        into one buffer first)."""
        dest = self.root / name
        tmp = self._tmp / f"{secrets.token_hex(12)}.tmp"
        try:
            self._ensure_parent(dest)
            if not self._write_direct(tmp, name, parts):
                fd = self._open_tmp(tmp, 0)
                try:
                    _write_all(fd, parts)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.replace(tmp, dest)
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            raise _backend_error(exc, dest) from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        try:
            fsync_dir(dest.parent)
        except OSError as exc:
            raise _backend_error(exc, dest.parent) from exc

    def _open_tmp(self, tmp: Path, extra_flags: int) -> int:
        try:
            fd = os.open(tmp, _TMP_FLAGS | extra_flags, FILE_MODE)
        except FileNotFoundError:
            make_dir(self._tmp)
            fd = os.open(tmp, _TMP_FLAGS | extra_flags, FILE_MODE)
        try:
            set_mode(fd, FILE_MODE)   # the umask may have taken the owner's bits
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _write_direct(self, tmp: Path, name: str,
                      parts: Sequence[bytes | bytearray | memoryview]) -> bool:
        """Write a pack unbuffered (see ``direct``); False where the file
        system does not allow it (remembered) or for other objects (small,
        and read back soon), which the caller writes buffered."""
        if not self._direct or not name.startswith(_CACHED_PREFIX):
            return False
        try:
            fd = self._open_tmp(tmp, direct.O_DIRECT)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self._direct = False
            return False
        try:
            direct.write_direct(fd, parts)
            os.fsync(fd)
        except direct.DirectUnsupported:
            self._direct = False
            os.close(fd)
            os.unlink(tmp)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return True

    def remove(self, name: str) -> None:
        path = self.root / name
        self._evict(name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _backend_error(exc, path) from exc
        try:
            fsync_dir(path.parent)
        except OSError as exc:
            raise _backend_error(exc, path.parent) from exc

    # -- reading -------------------------------------------------------------

    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = self.root / name
        if not name.startswith(_CACHED_PREFIX):
            try:
                with open(path, "rb") as f:
                    if offset:
                        f.seek(offset)
                    return f.read() if length is None else f.read(length)
            except OSError as exc:
                raise _backend_error(exc, path) from exc
        slot = self._acquire(name, path)
        try:
            if length is None:
                length = max(os.fstat(slot[0]).st_size - offset, 0)
            if length == 0:
                return b""
            data = os.pread(slot[0], length, offset)
            while len(data) < length:   # pread may return less (large reads)
                more = os.pread(slot[0], length - len(data), offset + len(data))
                if not more:
                    break
                data += more
            return data
        except OSError as exc:
            raise _backend_error(exc, path) from exc
        finally:
            self._release(slot)

    def _acquire(self, name: str, path: Path) -> list[int]:
        with self._fd_lock:
            slot = self._fds.get(name)
            if slot is None:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError as exc:
                    raise _backend_error(exc, path) from exc
                slot = self._fds[name] = [fd, 1]
                self._trim()
            else:
                self._fds.move_to_end(name)
                slot[1] += 1
            return slot

    def _release(self, slot: list[int]) -> None:
        with self._fd_lock:
            slot[1] -= 1
            if slot[1] == 0 and slot[0] in self._doomed:
                self._doomed.discard(slot[0])
                os.close(slot[0])

    def _trim(self) -> None:
        if len(self._fds) <= _MAX_OPEN:
            return
        for name in [n for n, (_, users) in self._fds.items() if users == 0]:
            os.close(self._fds.pop(name)[0])
            if len(self._fds) <= _MAX_OPEN:
                return

    def _evict(self, name: str) -> None:
        with self._fd_lock:
            slot = self._fds.pop(name, None)
            if slot is not None:
                self._close_slot(slot)

    def _close_slot(self, slot: list[int]) -> None:
        if slot[1] == 0:
            os.close(slot[0])
        else:
            self._doomed.add(slot[0])

    def drop_cache(self) -> None:
        """Close the cached descriptors (at the end of a restore or verify, so
        the next one sees packs changed or removed by others)."""
        with self._fd_lock:
            slots = list(self._fds.values())
            self._fds.clear()
            for slot in slots:
                self._close_slot(slot)

    def stat(self, name: str) -> ObjectInfo:
        path = self.root / name
        try:
            return ObjectInfo(name, os.stat(path).st_size)
        except OSError as exc:
            raise _backend_error(exc, path) from exc

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        cut = prefix.rfind("/")
        start = prefix[:cut + 1] if cut >= 0 else ""
        found: list[ObjectInfo] = []
        self._walk(self.root / start, start, prefix, found)
        return iter(found)

    def _walk(self, folder: Path, rel: str, prefix: str, found: builtins.list[ObjectInfo]) -> None:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise _backend_error(exc, folder) from exc
        for entry in entries:
            name = rel + entry.name
            if not rel and entry.name in (TMP_DIR, LOCK_FILE):
                continue
            if entry.is_dir(follow_symlinks=False):
                sub = name + "/"
                if sub.startswith(prefix) or prefix.startswith(sub):
                    self._walk(Path(entry.path), sub, prefix, found)
            elif name.startswith(prefix) and entry.is_file(follow_symlinks=False):
                try:
                    size = entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue
                found.append(ObjectInfo(name, size))

    # -- repository folder ---------------------------------------------------

    def check_creatable(self) -> None:
        """RepositoryError unless a repository can be created here: a new or
        empty folder, or one left by a creation that crashed before config.json
        was written (only our empty folders and the lock file)."""
        root = self.root
        if not root.exists():
            return
        if not root.is_dir():
            raise RepositoryError(
                f"Cannot create a repository at {root}: it is a file. Choose a folder."
            )
        allowed = {*SKELETON, LOCK_FILE}
        for child in root.iterdir():
            if child.name not in allowed or (
                    child.is_dir() and child.name != TMP_DIR and any(child.iterdir())):
                raise RepositoryError(
                    f"Cannot create a repository at {root}: the folder is not empty and holds "
                    "no repository. Choose an empty or new folder."
                )

    def prepare(self, *, create: bool = False) -> None:
        """Create the root (with ``create``), the top folders and the lock
        file. A read-only repository that has its folders is left as it is:
        enough to restore and verify. OSError if it cannot be done."""
        if create:
            make_dir(self.root)
        try:
            for d in SKELETON:
                make_dir(self.root / d, parents=False)
            lock = self.root / LOCK_FILE
            if not lock.exists():
                touch(lock)
            if create:
                fsync_dir(self.root)
        except OSError:
            if create or not all((self.root / d).is_dir() for d in ("packs", "index", "points")):
                raise

    def clear_tmp(self) -> tuple[int, builtins.list[str]]:
        """Remove files left in tmp/ by crashed writers (only under the
        exclusive lock). Returns (removed, problems)."""
        removed = 0
        problems: list[str] = []
        try:
            children = list(self._tmp.iterdir())
        except FileNotFoundError:
            return 0, []
        for p in children:
            try:
                p.unlink()
                removed += 1
            except OSError as exc:
                problems.append(f"could not remove temporary file {p}: {exc}")
        return removed, problems

    # -- lock ----------------------------------------------------------------

    def _open_lock(self) -> int | None:
        """A descriptor to lock; None on read-only media where the lock file was
        never created: nothing can write there, so there is nothing to lock."""
        path = self.root / LOCK_FILE
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        except OSError as exc:
            if out_of_descriptors(exc):
                raise RepositoryError(too_many_open_files(f"repository lock file {path}")) \
                    from exc
            if exc.errno not in _READ_ONLY:
                raise RepositoryError(
                    f"Cannot open repository lock file {path}: {exc.strerror or exc}. Check "
                    "that the repository disk is attached."
                ) from exc
        # read-only media: flock also works on a read-only descriptor
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RepositoryError(
                f"Cannot open repository lock file {path}: {exc.strerror or exc}. Check the "
                "repository folder's permissions."
            ) from exc

    def lock(self, *, exclusive: bool, wait: bool, cancel: LockCancel | None = None,
             purpose: str | None = None,
             on_wait: Callable[[str], None] | None = None) -> LocalLock | None:
        """flock(2); a wait with ``cancel`` polls (non-blocking tries every
        CANCEL_POLL s), so a stop ends it at once. ``purpose`` is not
        recorded: the holder is found in /proc/locks."""
        fd = self._open_lock()
        if fd is None:
            return LocalLock(None)
        op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            if self._try_flock(fd, op):
                return LocalLock(fd)
            if not wait or is_cancelled(cancel):
                os.close(fd)
                return None
            if on_wait is not None:
                on_wait(_flock_holder(fd))
            if cancel is None:
                fcntl.flock(fd, op)
                return LocalLock(fd)
            while not wait_or_cancel(cancel, CANCEL_POLL):
                if self._try_flock(fd, op):
                    return LocalLock(fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        return None

    @staticmethod
    def _try_flock(fd: int, op: int) -> bool:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def usage(self) -> Usage:
        try:
            st = os.statvfs(self.root)
        except OSError:
            return Usage()
        return Usage(capacity=st.f_blocks * st.f_frsize, free=st.f_bavail * st.f_frsize)

    def close(self) -> None:
        self.drop_cache()
