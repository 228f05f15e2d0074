"""A restic-like repository on local disk: content-addressed, deduplicated,
zstd-compressed blocks in pack files, one manifest per restore point.

On-disk layout under the repository root::

    config.json                 format version, repository id, block and pack size
    packs/<xx>/<packid>.pack    blobs plus a trailer listing them (see packfile)
    index/<id>.idx              blob id -> pack location (see index)
    points/<pointid>.json.zst   one manifest per restore point, written last
    lock                        flock: shared for backup/restore/verify, exclusive for prune
    tmp/                        files being written; renamed into place when durable
"""
from .errors import MissingParentData, PartialRestore, PointNotFound
from .model import (
    DIR,
    FILE,
    HARDLINK,
    SYMLINK,
    BlobProblem,
    Entry,
    FileEntry,
    Manifest,
    PointMeta,
    PruneReport,
    RepairReport,
    RepoStats,
    RestoreStats,
    new_point_id,
)
from .repository import Repository
from .verify import VerifyProblems
from .writer import BackupWriter

__all__ = [
    "DIR",
    "FILE",
    "HARDLINK",
    "SYMLINK",
    "BackupWriter",
    "BlobProblem",
    "Entry",
    "FileEntry",
    "Manifest",
    "MissingParentData",
    "PartialRestore",
    "PointMeta",
    "PointNotFound",
    "PruneReport",
    "RepairReport",
    "RepoStats",
    "Repository",
    "RestoreStats",
    "VerifyProblems",
    "new_point_id",
]
