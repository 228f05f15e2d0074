"""Plain data exchanged with the repository's callers."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

FILE = "file"
DIR = "dir"
SYMLINK = "symlink"
KINDS = (FILE, DIR, SYMLINK)

_POINT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def new_point_id() -> str:
    return secrets.token_hex(16)


def is_valid_point_id(point_id: str) -> bool:
    """Point ids become file names, so they must not carry path syntax."""
    return bool(_POINT_ID_RE.match(point_id))


@dataclass(frozen=True)
class PointMeta:
    id: str
    job: str
    computer: str
    session_id: str
    type: str  # "Full" | "Increment"
    created: datetime  # timezone-aware, UTC
    parent: str | None
    files: int = 0
    size: int = 0  # total logical bytes of the point's files


class Entry(NamedTuple):
    """One path of a restore point.

    A NamedTuple rather than a dataclass: manifests hold millions of these and
    tuple construction is several times cheaper than a frozen dataclass.
    """

    path: str  # relative, posix separators
    kind: str  # FILE | DIR | SYMLINK
    mode: int  # permission bits (stat.S_IMODE)
    mtime_ns: int
    size: int
    ctime_ns: int
    inode: int
    blocks: tuple[str, ...] = ()
    target: str | None = None  # symlink target


FileEntry = Entry


@dataclass
class Manifest:
    meta: PointMeta
    entries: list[Entry]

    def by_path(self) -> dict[str, Entry]:
        return {e.path: e for e in self.entries}


@dataclass(frozen=True)
class RestoreStats:
    point_id: str
    target: str
    files: int
    dirs: int
    symlinks: int
    bytes: int
    cancelled: bool = False


@dataclass(frozen=True)
class RepoStats:
    packs: int
    bytes_on_disk: int  # packs + index + manifests + config
    blobs: int
    points: int


@dataclass(frozen=True)
class BlobProblem:
    point_id: str
    blob: str
    pack: str | None
    problem: str  # "missing" | "corrupt"
    paths: list[str]


@dataclass
class PruneReport:
    skipped: bool = False
    reason: str = ""
    packs_deleted: int = 0  # unused or orphan packs removed outright
    packs_repacked: int = 0  # mostly-unused packs whose live blobs were copied
    packs_written: int = 0
    blobs_removed: int = 0
    bytes_freed: int = 0  # may be negative if only small packs were merged
    tmp_files_removed: int = 0
    problems: list[str] = field(default_factory=list)
