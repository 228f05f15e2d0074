"""Asking the kernel to read a computer's small files before the backup does,
from a helper process.

A cold backup of many small files waits on the disk once per file unless
someone asks for the next files early (``POSIX_FADV_WILLNEED``). Asking costs
two system calls per file, and on the task thread they were about a quarter
of its time in a cold full backup of the benchmark set; on another thread of
the server they were worse, because every call hands the interpreter lock
back and forth with the task thread. A small process of its own (no lock to
share, started only for a backup with many files to read) takes the paths
over a pipe and does the asking: the cold full backup went from 2.45 to
2.25 s. Only hints cross the pipe: the backup opens and reads every file
itself, so nothing the helper does can change what is stored."""
from __future__ import annotations

import errno
import os
import subprocess
import sys

# Paths arrive NUL-separated (a file name may hold a newline); the helper
# stops at the end of its input, so it never outlives the server.
_HELPER = r"""
import os
flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
willneed = os.POSIX_FADV_WILLNEED
rest = b""
while True:
    data = os.read(0, 1 << 16)
    if not data:
        break
    *paths, rest = (rest + data).split(b"\0")
    for path in paths:
        try:
            fd = os.open(path, flags)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, willneed)
        except OSError:
            pass
        os.close(fd)
"""


def supported() -> bool:
    return hasattr(os, "posix_fadvise")   # not on macOS or Windows


class ReadAheadProcess:
    """Hints for the files under ``prefix`` that are read next; ``close``
    ends the helper. Best effort throughout: a helper that cannot start, or
    a pipe that is full because the disk is slow, costs only the hint."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix   # the computer's root with a trailing "/"
        self._proc: subprocess.Popen[bytes] | None = None
        self._failed = False
        self._pending = b""     # the end of a path cut by a short write
        self.hinted = 0         # paths handed to the helper (tests)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def hint(self, rels: list[str]) -> None:
        proc = self._proc or self._start()
        if proc is None or not rels:
            return
        prefix = self._prefix
        old = len(self._pending)   # data[:old] ends a path the helper has begun
        data = self._pending + b"".join(os.fsencode(prefix + rel) + b"\0" for rel in rels)
        try:
            n = os.write(proc.stdin.fileno(), data)   # type: ignore[union-attr]
        except BlockingIOError:
            n = 0   # the helper is behind (a slow disk)
        except OSError:
            self._failed = True
            return
        self.hinted += data.count(b"\0", 0, n)
        # A path cut by a short write is finished with the next call; the
        # paths after it are dropped (hints: the backup reads them anyway).
        if n >= len(data) or (n >= old and data.rfind(b"\0", 0, n) + 1 == n):
            self._pending = b""
        elif n < old:
            self._pending = data[n:old]
        else:
            self._pending = data[n:data.find(b"\0", n) + 1]

    def _start(self) -> subprocess.Popen[bytes] | None:
        if self._failed:
            return None
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _HELPER],
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, bufsize=0)
        except OSError:
            self._failed = True
            return None
        os.set_blocking(proc.stdin.fileno(), False)   # type: ignore[union-attr]
        self._proc = proc
        return proc

    def close(self) -> None:
        """End the helper now: the hints left are of no use any more."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.kill()
        except OSError as exc:   # pragma: no cover - already reaped
            if exc.errno != errno.ESRCH:
                raise
        proc.wait()
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
