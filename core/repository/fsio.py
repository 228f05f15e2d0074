"""Durable file primitives: atomic replace and directory fsync."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tmp_name(tmp_dir: Path, suffix: str) -> Path:
    return tmp_dir / f"{secrets.token_hex(12)}{suffix}"


def atomic_write(dest: Path, data: bytes, tmp_dir: Path, mode: int = 0o666) -> None:
    """Write ``data`` to ``dest`` so that ``dest`` is either absent/old or complete.

    Write a temp file (created with ``mode``, less the umask), fsync it, rename
    it over ``dest``, fsync the directory."""
    tmp = tmp_name(tmp_dir, ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dest.parent)


def ensure_dir(path: Path) -> None:
    """Create ``path`` (one level) durably if it does not exist yet."""
    try:
        os.mkdir(path)
    except FileExistsError:
        return
    fsync_dir(path.parent)
