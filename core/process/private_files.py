"""Owner-only folders and files, whatever the umask.

The data directory and the local repositories hold the job list, the logs
and the backed-up contents of files only their owners may read: no other
local user may list or read any of it. Everything under them is created
0700 (folders) or 0600 (files) here. The mode passed to mkdir(2) and open(2)
is only an upper bound (the umask is taken away from it), so the mode is set
again on what was created: a umask of 0o000 cannot widen it and one of
0o277 cannot leave the owner locked out.

:func:`tighten` takes group and other bits off a tree made by an older
version (0755 folders, 0644 files), without following symlinks."""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# chmod(2) of one's own new file fails only where the file system keeps no
# Unix modes (FAT, exFAT, some network shares): there the mount decides.
NO_MODES = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EROFS})


def set_mode(target: int | Path | str, mode: int) -> None:
    """fchmod (a descriptor) or chmod (a path), ignored where the file system
    keeps no modes."""
    try:
        if isinstance(target, int):
            os.fchmod(target, mode)
        else:
            os.chmod(target, mode)
    except OSError as exc:
        if exc.errno not in NO_MODES:
            raise


def make_dir(path: Path | str, *, parents: bool = True) -> None:
    """``mkdir -p`` (``parents=False``: ``mkdir``, FileNotFoundError when the
    parent is missing) where every folder created is 0700; folders already
    there are left as they are."""
    path = Path(path)
    missing: list[Path] = []
    d = path
    while not d.is_dir():
        missing.append(d)
        if d.parent == d or not parents:
            break
        d = d.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue
        set_mode(d, DIR_MODE)


def open_file(path: Path | str, flags: int, *, dir_fd: int | None = None) -> int:
    """``os.open(path, flags | O_CREAT)``; a file it creates is 0600. An
    existing file is not changed (see :func:`tighten`)."""
    try:
        return os.open(path, (flags | os.O_CLOEXEC) & ~os.O_CREAT, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE,
                     dir_fd=dir_fd)
    except FileExistsError:   # created by another process meanwhile
        return os.open(path, (flags | os.O_CLOEXEC) & ~os.O_CREAT, dir_fd=dir_fd)
    _fix_mode(fd)
    return fd


def touch(path: Path | str) -> None:
    """Create ``path`` as an empty 0600 file unless it exists."""
    os.close(open_file(path, os.O_RDONLY))


def _fix_mode(fd: int) -> None:
    try:
        set_mode(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise


# -- tightening an existing tree ---------------------------------------------------
@dataclass
class Tightened:
    """What :func:`tighten` changed: entries whose group/other bits it took
    off, and entries it could not check or change."""

    changed: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: Tightened) -> None:
        self.changed += other.changed
        self.problems += other.problems


def tighten(root: Path, *, keep_contents: Collection[str] = ()) -> Tightened:
    """Take the group and other bits off ``root`` and everything under it
    that belongs to this user (owner bits are kept: nothing is loosened).

    ``root`` itself may be a symlink (the user chose it); below it, symlinks
    are neither followed nor changed: each folder is opened with O_NOFOLLOW
    relative to its parent, so a link cannot lead the walk out of the tree.
    Folders named in ``keep_contents`` (paths relative to ``root``) are made
    owner-only themselves, but what they hold keeps its modes (the demo
    computers' files, whose modes are backed up). Entries of other users are
    left alone; one that cannot be changed (immutable, or on a file system
    without Unix modes) is a problem and the walk goes on."""
    result = Tightened()
    try:
        fd = os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
            result.problems.append(f"{root}: {exc.strerror}")
        return result
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid():
            _chmod(lambda mode: os.fchmod(fd, mode), st, root, result)
            _walk(fd, root, "", frozenset(keep_contents), result)
    finally:
        os.close(fd)
    return result


def _chmod(change: Callable[[int], None], st: os.stat_result, path: Path,
           result: Tightened) -> None:
    mode = stat.S_IMODE(st.st_mode)
    if not mode & ~0o700:
        return
    try:
        change(mode & 0o700)
        result.changed += 1
    except FileNotFoundError:
        pass
    except OSError as exc:
        result.problems.append(f"{path}: {exc.strerror}")


def _walk(dir_fd: int, path: Path, rel: str, keep: frozenset[str],
          result: Tightened) -> None:
    if rel in keep:
        return
    try:
        names = os.listdir(dir_fd)
    except OSError as exc:
        result.problems.append(f"{path}: {exc.strerror}")
        return
    for name in names:
        child = path / name
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        except OSError as exc:
            result.problems.append(f"{child}: {exc.strerror}")
            continue
        if st.st_uid != os.geteuid():
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                    result.problems.append(f"{child}: {exc.strerror}")
                continue
            try:
                _chmod(lambda mode: os.fchmod(sub, mode), os.fstat(sub), child, result)
                _walk(sub, child, f"{rel}/{name}" if rel else name, keep, result)
            finally:
                os.close(sub)
        elif stat.S_ISREG(st.st_mode):
            # The parent is this user's and no longer open to others, so
            # nobody else can swap the file for a symlink after the lstat.
            _chmod(lambda mode: os.chmod(name, mode, dir_fd=dir_fd), st, child, result)
