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
HARDLINK = "hardlink"  # another name of a file entry earlier in the manifest (``target``)
KINDS = (FILE, DIR, SYMLINK, HARDLINK)

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
    # The backup server (data directory) that wrote the point, as restic records
    # the host; None in manifests written before servers had ids.
    server: str | None = None
    # A copy made by a backup copy job: the id of the point it copies (in the
    # source job's repository); None for a point a backup made.
    origin: str | None = None


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
    target: str | None = None  # symlink target, or the path a hard link shares data with


FileEntry = Entry


class PartialFile(NamedTuple):
    """A file a paused backup had read part of: ``entry`` is the file as it was scanned
    (its size, times, inode) with the blocks stored so far, ``sizes`` their lengths. A
    resume continues it at their end (a chunk boundary) when the file is unchanged."""

    entry: Entry
    sizes: tuple[int, ...]

    @property
    def offset(self) -> int:
        return sum(self.sizes)


@dataclass
class Manifest:
    meta: PointMeta
    entries: list[Entry]
    # Format 3: the ids of the blobs holding the entry rows (see entrystream),
    # live data like the blocks; () for a manifest of format 1 or 2.
    entry_blobs: tuple[str, ...] = ()

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
    hardlinks: int = 0
    failed: tuple[tuple[str, str], ...] = ()   # (path, why) of files not restored


@dataclass(frozen=True)
class RepoStats:
    packs: int
    bytes_on_disk: int  # packs + index + manifests + config
    blobs: int
    points: int


@dataclass(frozen=True)
class BlobProblem:
    point_id: str  # "" for damage no checked point depends on
    blob: str      # "" for a manifest, index or pack-structure problem
    pack: str | None
    problem: str  # "missing" | "corrupt" | "manifest missing" | "manifest corrupt" | "damaged"
    paths: list[str]
    detail: str = ""


@dataclass
class RepairReport:
    packs_checked: int = 0
    blobs_ok: int = 0
    blobs_damaged: int = 0           # copies that failed to decode and were dropped
    packs_rewritten: int = 0         # packs with damage whose intact blobs were copied out
    index_files_replaced: int = 0
    points_ok: list[str] = field(default_factory=list)
    points_relinked: list[str] = field(default_factory=list)   # were broken, now complete
    points_damaged: dict[str, str] = field(default_factory=dict)  # point id -> why
    problems: list[str] = field(default_factory=list)


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
    stopped: bool = False   # cancelled between packs: the packs repacked so far count
    locked_deleted: int = 0     # immutable: retired objects deleted once their lock expired
    locked_kept: int = 0        # immutable: retired objects still under lock
    locks_extended: int = 0     # immutable: objects in use whose lock was pushed ahead
