"""Directory handles under a restore target that never follow symlinks.

Every path below the target is reached one component at a time with
``openat(O_NOFOLLOW | O_DIRECTORY)``, so a symlink (from the manifest or
already in the target) can never redirect a write outside the target."""
from __future__ import annotations

import errno
import os
import stat
from collections import OrderedDict

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class NotADir(Exception):
    """Something other than a directory is in the way and must not be replaced."""


def open_child_dir(parent_fd: int, name: str) -> int:
    """Open (creating if needed) directory ``name`` in ``parent_fd``.

    A symlink or file in the way is replaced by a directory; the symlink's
    target is never touched."""
    for _ in range(3):
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            try:
                os.mkdir(name, 0o777, dir_fd=parent_fd)
            except FileExistsError:
                pass
        except OSError as exc:
            if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                raise
            st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise
            os.unlink(name, dir_fd=parent_fd)
    raise NotADir(name)


class DirHandles:
    """A small LRU cache of directory descriptors keyed by relative path.

    A returned descriptor stays valid until the next call to ``fd``."""

    def __init__(self, root_fd: int, max_open: int = 64) -> None:
        self._root = root_fd
        self._max_open = max_open
        self._fds: OrderedDict[str, int] = OrderedDict()

    def fd(self, rel_dir: str) -> int:
        if not rel_dir:
            return self._root
        fd = self._fds.get(rel_dir)
        if fd is not None:
            self._fds.move_to_end(rel_dir)
            return fd
        # Walk down from the deepest ancestor already open.
        parts = rel_dir.split("/")
        depth = len(parts) - 1
        fd = self._root
        while depth > 0:
            cached = self._fds.get("/".join(parts[:depth]))
            if cached is not None:
                fd = cached
                break
            depth -= 1
        opened: list[int] = []
        try:
            for i in range(depth, len(parts)):
                fd = open_child_dir(fd, parts[i])
                opened.append(fd)
        except BaseException:
            for o in opened:
                os.close(o)
            raise
        for o in opened[:-1]:
            os.close(o)
        self._fds[rel_dir] = fd
        while len(self._fds) > self._max_open:
            os.close(self._fds.popitem(last=False)[1])
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
